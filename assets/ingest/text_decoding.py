"""Bytes to text: the encoding of a file (BOM, UTF-8, cp1252, latin-1), binary content, and rows whose text
cannot be trusted (NUL bytes, undecodable bytes).
"""

from __future__ import annotations

import codecs
import re

from assets.ingest.parsed_file import FileFailed

# NUL bytes and the lone surrogates that stand for undecodable bytes: rows holding them are problems.
UNCLEAN_TEXT = re.compile("[\x00\ud800-\udfff]")


# Control bytes other than TAB/LF/CR/FF in the first block: text files have next to none.
BINARY_SAMPLE = 8192


BINARY_CONTROL_SHARE = 0.05


def decode_text(data: bytes) -> tuple[str, str, bool]:
    """Decode with the BOM if there is one, else UTF-8, else cp1252, else latin-1. Returns the text, the
    encoding, and whether the decoding was lossless (no lone surrogates standing for undecodable bytes).

    A file that is UTF-8 except for a few bad bytes stays UTF-8: its other rows keep their accents and
    the rows holding the bad bytes become problems (lone surrogates mark them). Only a file with no valid
    multi-byte UTF-8 at all is taken as cp1252/latin-1.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", "surrogateescape"), "utf-8-sig", False
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16", True
        except UnicodeDecodeError as exc:
            raise FileFailed(f"undecodable UTF-16 (byte {exc.start}): {exc.reason}") from None
    if looks_binary(data[:BINARY_SAMPLE]):
        raise FileFailed(
            "binary content (control or NUL bytes), not a text file; UTF-16 files need a byte-order mark"
        )
    try:
        return data.decode("utf-8"), "utf-8", True
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", "surrogateescape")
    if any(ord(ch) > 0x7F and not 0xDC80 <= ord(ch) <= 0xDCFF for ch in lenient):
        return lenient, "utf-8", False
    try:
        return data.decode("cp1252"), "cp1252", True
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1", True


def looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in (0x09, 0x0A, 0x0C, 0x0D))
    return controls / len(sample) > BINARY_CONTROL_SHARE


def row_defect(cells: list[str]) -> str | None:
    """Why a record's text cannot be trusted: undecodable bytes or NUL bytes."""
    for cell in cells:
        if cell is None:
            continue
        if "\x00" in cell:
            return "contains a NUL byte"
        # one scan in C: a Python loop over the characters was most of the time of reading a JSON file
        surrogate = SURROGATE.search(cell)
        if surrogate:
            if 0xDC80 <= ord(surrogate.group()) <= 0xDCFF:  # how surrogateescape kept an undecodable byte
                return "contains bytes that are not valid UTF-8"
            return "contains an unpaired surrogate (not valid Unicode)"
    return None


SURROGATE = re.compile("[\ud800-\udfff]")
