"""Turn one inbox file into a header and a frame of text cells, whatever its format and encoding.

Every record comes out either as cells aligned to the header, or as a problem with the reason and the
raw text, so that nothing is lost. A file that cannot be read at all raises `FileFailed`.

Delimited text has two readers with one meaning. polars' multi-threaded CSV parser takes the common
case: clean text, LF or CRLF line ends, quotes only around whole fields, no row wider than the first.
Anything else, or anything polars refuses, goes to Python's `csv` module, which also names each bad
row. tests/test_readers.py holds the two to the same output. Excel's `sep=` line and a space before a
quoted cell are handled before and in them (assets/dialects.py); double-encoded UTF-8 is repaired in the
cells of every format (assets/mojibake.py).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from assets.dialects import (
    TEXT_AFTER_QUOTE,
    excel_separator,
    has_spaced_quotes,
    physical_lines,
    spaced_record_cells,
)
from assets.mojibake import no_repairs, repair_cells

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
DATA_SUFFIXES = TEXT_SUFFIXES + PARQUET_SUFFIXES + JSONL_SUFFIXES
DELIMITERS = (",", ";", "\t", "|")
SNIFF_RECORDS = 200
# Control bytes other than TAB/LF/CR/FF in the first block: text files have next to none.
BINARY_SAMPLE = 8192
BINARY_CONTROL_SHARE = 0.05
DEFAULT_CSV_FIELD_LIMIT = 64 * 1024 * 1024
csv.field_size_limit(DEFAULT_CSV_FIELD_LIMIT)
# NUL bytes and the lone surrogates that stand for undecodable bytes: rows holding them are problems.
UNCLEAN_TEXT = re.compile("[\x00\ud800-\udfff]")


class FileFailed(Exception):
    """The whole file is unreadable; the message is the reason recorded in the ledger."""


@dataclass
class RowProblem:
    row_number: int
    detail: str
    raw: str


# Every character Python's str.strip() removes (str.isspace), spelled out rather than found by scanning
# all of Unicode at import: polars' default strip follows Unicode White_Space, which lacks the four ASCII
# separators \x1c-\x1f that Python strips. tests/test_readers.py checks the list against str.isspace.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def cell_column(index: int) -> str:
    return f"c{index}"


@dataclass
class ParsedFile:
    header: list[str]
    cells: (
        pl.DataFrame
    )  # `row_number`, then one text column per header cell (`c0`, `c1`...); null = missing cell
    problems: list[RowProblem] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    repairs: pl.DataFrame = field(
        default_factory=no_repairs
    )  # cells whose mojibake was repaired (assets/mojibake.py)

    @classmethod
    def from_records(
        cls, header: list[str], records: list[list[str | None]], row_numbers: list[int], **extra
    ) -> ParsedFile:
        columns = {"row_number": pl.Series(row_numbers, dtype=pl.Int64)}
        for index in range(len(header)):
            columns[cell_column(index)] = pl.Series([record[index] for record in records], dtype=pl.Utf8)
        return cls(header, pl.DataFrame(columns), **extra)

    @property
    def rows_total(self) -> int:
        return self.cells.height + len(self.problems)

    def column(self, index: int) -> pl.Series:
        return self.cells.get_column(cell_column(index))

    def raw_lines(self, row_numbers: list[int]) -> dict[int, str]:
        """The text of some records, cells joined by the delimiter, for the rejects table."""
        if not row_numbers:
            return {}
        names = [cell_column(index) for index in range(len(self.header))]
        picked = self.cells.filter(pl.col("row_number").is_in(row_numbers)).select(
            "row_number",
            pl.concat_str(
                [pl.col(name).fill_null("") for name in names], separator=self.delimiter or ","
            ).alias("raw"),
        )
        return {number: printable_raw(raw) for number, raw in picked.iter_rows()}


def data_suffix(path: Path) -> str | None:
    """The format suffix that decides how to read the file (`.csv` for `x.csv.gz`), or None."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in DATA_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def read_file(path: Path, data: bytes | None = None, content: bytes | None = None) -> ParsedFile:
    """Parse a file's bytes (`data`, read from `path` if not given); `content`: its decompressed bytes,
    when the caller has them already (assets/read_limits.py decompresses under limits)."""
    suffix = data_suffix(path)
    if suffix is None:
        raise FileFailed(
            f"unsupported file type {path.suffix!r}; expected one of {', '.join(DATA_SUFFIXES)} (optionally .gz)"
        )
    if content is not None:
        data = content
    else:
        data = path.read_bytes() if data is None else data
        if path.name.lower().endswith(".gz"):
            data = _gunzip(data)
    if suffix in PARQUET_SUFFIXES:
        parsed = _read_parquet(data)
    else:
        text, encoding, lossless = decode_text(data)
        if suffix in JSONL_SUFFIXES:
            parsed = _read_jsonl(text)
        else:
            clean = "\x00" not in text and (lossless or UNCLEAN_TEXT.search(text) is None)
            # polars reads bytes: the file's own bytes when they are exactly the decoded text's UTF-8.
            utf8 = data if encoding == "utf-8" and lossless else None
            parsed = _read_delimited(
                text, default_delimiter="\t" if suffix == ".tsv" else None, clean=clean, utf8=utf8
            )
        parsed.encoding = encoding
    parsed.cells, parsed.repairs = repair_cells(
        parsed.cells, [cell_column(index) for index in range(len(parsed.header))]
    )
    return parsed


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise FileFailed(f"not a readable gzip file: {exc}") from None


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
        for ch in cell:
            if 0xDC80 <= ord(ch) <= 0xDCFF:
                return "contains bytes that are not valid UTF-8"
            if 0xD800 <= ord(ch) <= 0xDFFF:
                return "contains an unpaired surrogate (not valid Unicode)"
    return None


def printable_raw(text: str) -> str:
    """Raw text for the rejects table: undecodable bytes as \\xNN, NUL as \\x00."""
    escaped = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return escaped.replace("\x00", "\\x00")


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the header into the most columns consistently across records."""
    sample = text[: 256 * 1024]
    best, best_score = ",", (-1.0, 0)
    for delimiter in DELIMITERS:
        widths = []
        spaced = has_spaced_quotes(sample, delimiter)
        try:
            for record in csv.reader(
                io.StringIO(sample, newline=""), delimiter=delimiter, skipinitialspace=spaced
            ):
                if any(cell.strip() for cell in record):
                    widths.append(len(record))
                if len(widths) >= SNIFF_RECORDS:
                    break
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for width in widths if width == widths[0]) / len(widths)
        score = (consistent, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_delimited(
    text: str, default_delimiter: str | None, clean: bool = False, utf8: bytes | None = None
) -> ParsedFile:
    excel = excel_separator(text)
    if excel is not None:
        # The line is ASCII, so its length in characters is its length in the UTF-8 bytes too.
        delimiter, skip = excel
        text, utf8 = text[skip:], (utf8[skip:] if utf8 is not None else None)
    else:
        delimiter = default_delimiter or sniff_delimiter(text)
    if clean:
        fast = _read_delimited_fast(text, delimiter, utf8)
        if fast is not None:
            return fast
    return _read_delimited_python(text, delimiter)


def _quotes_are_simple(text: str, delimiter: str) -> bool:
    """Every quote belongs to a field quoted whole (`,"a ""b"", c",`): the only quoting both readers read alike."""
    if '"' not in text:
        return True
    separators = re.escape(delimiter) + r"\n"
    # The quote comes first so the regex engine can skip to quotes; the lookbehind then checks the
    # character before it (a separator, a line end, or nothing at the start of the text).
    whole_fields = re.compile(rf'"(?<![^{separators}]")[^"]*(?:""[^"]*)*"(?![^{separators}\r])')
    # Jump from quote to quote (str.find is far faster than the regex engine's scan) and match a whole
    # field at each: a quote that starts none is a quote the two readers could read differently.
    position = text.find('"')
    while position != -1:
        field_match = whole_fields.match(text, position)
        if field_match is None:
            return False
        position = text.find('"', field_match.end())
    return True


def _read_delimited_fast(text: str, delimiter: str, utf8: bytes | None = None) -> ParsedFile | None:
    """polars' reader for the common case, or None when the file needs the Python reader's care.
    `utf8`: the text's UTF-8 bytes, when the caller has them already."""
    first_line = text[: text.find("\n")] if "\n" in text else text
    if (
        not first_line.strip(PY_WHITESPACE + delimiter)  # leading blank lines: the header is further down
        or ("\r" in text and text.count("\r") != text.count("\r\n"))  # bare CR line ends
        or not _quotes_are_simple(text, delimiter)
    ):
        return None
    try:
        frame = pl.read_csv(
            io.BytesIO(utf8 if utf8 is not None else text.encode("utf-8")),
            has_header=False,
            infer_schema=False,
            separator=delimiter,
            quote_char='"',
            truncate_ragged_lines=False,
            raise_if_empty=True,
        )
    except Exception:  # noqa: BLE001 - wider rows than the header, odd quoting: the Python reader decides and explains
        return None
    header = [(cell or "").strip() for cell in frame.row(0)]
    names = [cell_column(index) for index in range(frame.width)]
    frame = frame.slice(1).rename(dict(zip(frame.columns, names, strict=True)))

    # A record whose cells are all blank is not a row, as in the Python reader; row numbers count the others.
    # Only records with a blank first cell can be blank: the full test runs on those alone.
    def is_blank(name: str) -> pl.Expr:
        return pl.col(name).is_null() | (pl.col(name).str.strip_chars(PY_WHITESPACE) == "")

    frame = frame.with_row_index("record")
    suspects = frame.filter(is_blank(names[0]))
    if suspects.height:
        blank = suspects.filter(pl.all_horizontal([is_blank(name) for name in names])).get_column("record")
        frame = frame.filter(~pl.col("record").is_in(blank.implode()))
    frame = (
        frame.drop("record")
        .with_row_index("row_number", offset=1)
        .with_columns(pl.col("row_number").cast(pl.Int64))
    )
    return ParsedFile(header, frame, [], delimiter=delimiter)


def _read_delimited_python(text: str, delimiter: str) -> ParsedFile:
    # `a@x.com, "Smith, J"`: with skipinitialspace the quote after the space opens a quoted cell.
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        strict=True,
        skipinitialspace=has_spaced_quotes(text, delimiter),
    )
    header: list[str] | None = None
    records: list[list[str | None]] = []
    row_numbers: list[int] = []
    problems: list[RowProblem] = []
    row_number = 0
    lines: list[str] | None = None  # the physical lines, split only when a record needs its raw text
    line_num = 0  # lines read up to the end of the last record
    try:
        while True:
            try:
                cells = next(reader)
                line_num = reader.line_num
            except StopIteration:
                break
            except csv.Error as exc:
                if TEXT_AFTER_QUOTE not in str(exc):
                    raise
                # Text after a closing quote spoils one record, not the file: the reader goes on at the
                # next line, and the refused record is the lines it read for it.
                lines = physical_lines(text) if lines is None else lines
                raw = "".join(lines[line_num : reader.line_num]).rstrip("\r\n")
                line_num = reader.line_num
                cells = spaced_record_cells(raw, delimiter)
                if cells is None and header is None:
                    raise
                if cells is None:
                    row_number += 1
                    problems.append(
                        RowProblem(
                            row_number,
                            f"text after the closing quote of a quoted cell (expected {delimiter!r} or a line end)",
                            printable_raw(raw),
                        )
                    )
                    continue
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows
            if header is None:
                defect = row_defect(cells)
                if defect:
                    raise FileFailed(f"the header row {defect}")
                header = [cell.strip() for cell in cells]
                continue
            row_number += 1
            defect = row_defect(cells)
            if defect is None and len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                defect = f"has {len(cells)} fields but the header has {len(header)}"
            if defect:
                problems.append(RowProblem(row_number, defect, printable_raw(delimiter.join(cells))))
                continue
            # Short rows are common in exports (trailing cells left off): the missing cells are empty.
            records.append(cells[: len(header)] + [None] * (len(header) - len(cells)))
            row_numbers.append(row_number)
    except csv.Error as exc:
        raise FileFailed(
            f"malformed CSV near line {reader.line_num}: {exc} (check for an unbalanced quote)"
        ) from None
    if header is None:
        raise FileFailed("empty file: a header row is required")
    return ParsedFile.from_records(header, records, row_numbers, problems=problems, delimiter=delimiter)


def _jsonl_cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if item is None else str(item) for item in value)
    return json.dumps(value, ensure_ascii=False)


def _read_jsonl(text: str) -> ParsedFile:
    header: list[str] = []
    positions: dict[str, int] = {}
    objects: list[tuple[int, dict]] = []
    problems: list[RowProblem] = []
    row_number = 0
    # Split on LF only: str.splitlines() would also split inside strings holding U+2028, U+0085 or \x1c-\x1e.
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        row_number += 1
        defect = row_defect([line])
        if defect is None:
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                defect = f"invalid JSON: {exc.msg} at column {exc.colno}"
            else:
                if not isinstance(value, dict):
                    defect = f"expected a JSON object, got {type(value).__name__}"
                else:  # escapes such as \u0000 or a lone \ud800 only show up once decoded
                    defect = row_defect([_jsonl_cell(v) for v in value.values()] + list(value))
        if defect:
            problems.append(RowProblem(row_number, defect, printable_raw(line)))
            continue
        for key in value:
            if key not in positions:
                positions[key] = len(header)
                header.append(key)
        objects.append((row_number, value))
    if row_number == 0:
        raise FileFailed("empty file: no JSON objects")
    records = [[_jsonl_cell(obj.get(key)) for key in header] for _, obj in objects]
    return ParsedFile.from_records(header, records, [number for number, _ in objects], problems=problems)


def _read_parquet(data: bytes) -> ParsedFile:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several types for corrupt files
        raise FileFailed(f"not a readable Parquet file: {exc}") from None
    as_text = frame.select(
        pl.col(name).list.eval(pl.element().cast(pl.Utf8)).list.join(",")
        if isinstance(dtype, pl.List)
        else pl.col(name).cast(pl.Utf8)
        for name, dtype in frame.schema.items()
    )
    names = [cell_column(index) for index in range(as_text.width)]
    cells = as_text.rename(dict(zip(as_text.columns, names, strict=True))).with_row_index(
        "row_number", offset=1
    )
    return ParsedFile(list(frame.columns), cells.with_columns(pl.col("row_number").cast(pl.Int64)))
