"""What every reader produces: a header, a frame of text cells and the rows it could not read (`ParsedFile`),
or `FileFailed` for a file that cannot be read at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from assets.ingest.mojibake import no_repairs


class FileFailed(Exception):
    """The whole file is unreadable; the message is the reason recorded in the ledger."""


@dataclass
class RowProblem:
    row_number: int
    detail: str
    raw: str
    reason: str = (
        "unparseable"  # the rejects table's reason (a sending-service record: unrecognised_record, ...)
    )


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
    # `row_number`, then one text column per header cell (`c0`, `c1`...); null = missing cell
    cells: pl.DataFrame
    problems: list[RowProblem] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    # cells whose mojibake was repaired (assets/ingest/mojibake.py)
    repairs: pl.DataFrame = field(default_factory=no_repairs)
    # JSON inputs: the records, in row order (row n is records[n - 1]); a rejected row's raw text is its JSON
    records: list[Any] | None = None

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
        if self.records is not None:
            return {number: raw_of(self.records[number - 1]) for number in row_numbers}
        names = [cell_column(index) for index in range(len(self.header))]
        picked = self.cells.filter(pl.col("row_number").is_in(row_numbers)).select(
            "row_number",
            pl.concat_str(
                [pl.col(name).fill_null("") for name in names], separator=self.delimiter or ","
            ).alias("raw"),
        )
        return {number: printable_raw(raw) for number, raw in picked.iter_rows()}


def raw_of(record: Any) -> str:
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(record)
    try:
        return printable_raw(text)
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape: keep the escape as written
        return json.dumps(record, ensure_ascii=True, separators=(",", ":"))


def printable_raw(text: str) -> str:
    """Raw text for the rejects table: undecodable bytes as \\xNN, NUL as \\x00."""
    escaped = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return escaped.replace("\x00", "\\x00")
