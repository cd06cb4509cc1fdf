"""Two habits of spreadsheet and hand-edited CSV that the plain readers misread.

Excel's `sep=;` first line names the delimiter; it is neither a record nor the header. And hand-edited
files put a space after the delimiter before a quoted cell (`a@x.com, "Smith, J"`), which RFC 4180
readers take as an unquoted cell holding quote marks.
"""

from __future__ import annotations

import csv
import io
import re

# `sep=;` (any case, optionally quoted, optionally padded with more delimiters, as some tools write it
# to the sheet's width), alone on the first line. The delimiter must be one ASCII byte polars can split
# on: a TAB or punctuation other than the quote.
SEP_LINE = re.compile(r'"?sep=([\t!#-/:-@\[-`{-~])"?([^\r\n]*)(\r\n|\n|\r|$)', re.IGNORECASE)
# Python's csv module reports text between a quoted cell's closing quote and the next delimiter so.
TEXT_AFTER_QUOTE = "expected after"
QUOTED_CELL = re.compile(r'"(?:[^"]|"")*"')


def excel_separator(text: str) -> tuple[str, int] | None:
    """The delimiter a leading `sep=` line names and the length of that line with its line end, or None."""
    found = SEP_LINE.match(text)
    if found is None:
        return None
    delimiter, padding = found.group(1), found.group(2)
    if padding.strip(delimiter + " "):
        return None  # more than padding after it: a real record that happens to start with "sep="
    return delimiter, found.end()


def has_spaced_quotes(text: str, delimiter: str) -> bool:
    """Whether a cell opens with spaces and then a quote (`, "Foo"`): such files are read with
    skipinitialspace, so that the quote opens a quoted cell instead of being kept as text.

    Decided the way the csv module reads quotes, so a `, "` inside a quoted cell (`"Hi, ""you"" there"`)
    does not count: skipinitialspace also drops the leading spaces of unquoted cells, and files without
    a spaced quote must keep reading exactly as polars' reader reads them.
    """
    if ' "' not in text:  # the common case, decided without a scan
        return False
    starts = delimiter + "\r\n"
    position = text.find('"')
    while position != -1:
        before = position - 1
        if before < 0 or text[before] in starts:  # a quoted cell: skip to its closing quote
            quoted = QUOTED_CELL.match(text, position)
            if quoted is None:
                return False  # never closed: the reader fails the file either way
            position = text.find('"', quoted.end())
            continue
        while before >= 0 and text[before] == " ":
            before -= 1
        if before < position - 1 and (before < 0 or text[before] in starts):
            return True
        position = text.find('"', position + 1)  # a quote inside an unquoted cell (`O"Brien`) is text
    return False


def physical_lines(text: str) -> list[str]:
    """The text's lines as the csv module counts them (`reader.line_num`): split at LF, CR or CRLF only."""
    return io.StringIO(text, newline="").readlines()


def spaced_record_cells(raw: str, delimiter: str) -> list[str] | None:
    """The cells of a record that the strict reader refused only for spaces after a closing quote
    (`a@x.com, "Foo" , "Bar"`), or None when anything else follows a closing quote (`"Foo" Bar`):
    which part of that is the value is a guess."""
    d = re.escape(delimiter)
    cell = rf'(?: *"(?:[^"]|"")*" *| *[^" {d}\r\n][^{d}\r\n]*| *)'
    if re.fullmatch(rf"{cell}(?:{d}{cell})*", raw) is None:
        return None
    # Non-strict parsing keeps the spaces after the closing quote in the value; downstream trims them.
    return next(
        csv.reader(io.StringIO(raw, newline=""), delimiter=delimiter, skipinitialspace=True, strict=False)
    )
