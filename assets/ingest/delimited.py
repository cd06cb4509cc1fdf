"""Delimited text (CSV, TSV, `;` and `|`) into a ParsedFile, with two readers of one meaning.

polars' multi-threaded CSV parser takes the common case: clean text, LF or CRLF line ends, quotes only
around whole fields, no row wider than the first. Anything else, or anything polars refuses, goes to
Python's `csv` module, which also names each bad row. tests/test_readers.py holds the two to the same
output. Excel's `sep=` line and a space before a quoted cell are handled before and in them
(assets/ingest/dialects.py).
"""

from __future__ import annotations

import csv
import io
import re

import polars as pl

from assets.ingest.dialects import (
    TEXT_AFTER_QUOTE,
    excel_separator,
    has_spaced_quotes,
    physical_lines,
    spaced_record_cells,
)
from assets.ingest.parsed_file import (
    PY_WHITESPACE,
    FileFailed,
    ParsedFile,
    RowProblem,
    cell_column,
    printable_raw,
)
from assets.ingest.text_decoding import row_defect

DELIMITERS = (",", ";", "\t", "|")


SNIFF_RECORDS = 200


DEFAULT_CSV_FIELD_LIMIT = 64 * 1024 * 1024


csv.field_size_limit(DEFAULT_CSV_FIELD_LIMIT)


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
