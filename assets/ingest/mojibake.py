"""Repair double-encoded UTF-8 (`JosÃ© MÃ¼ller` for `José Müller`), what a UTF-8 file read as cp1252
and saved again as UTF-8 holds: the usual result of an Excel round trip.

ftfy decides whether a text is mojibake and how to undo it. Only its encoding fix is used (no quote
uncurling, width folding, line-break or HTML changes), and a result is kept only when ftfy's plan
decodes UTF-8, so legitimate text such as `JOÃO` or `Âge` is left alone. ftfy costs microseconds per
value, so a vectorised prefilter picks the cells that can be double-encoded UTF-8 at all: a clean
file pays a length comparison per cell, and a regex only on its non-ASCII cells.
"""

from __future__ import annotations

import ftfy
import polars as pl

# A UTF-8 lead byte read as Latin-1/cp1252 (Â..ô) followed by a continuation byte read so (U+0080..U+00BF,
# or the cp1252 characters at 0x80..0x9F), or by a space where a no-break space (0xA0) was lost. Every
# double-encoded non-ASCII character starts so; legitimate text almost never does.
PREFILTER = (
    "[\u00c2-\u00f4]"
    "[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201a\u201c-\u201e"
    "\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
    "|[\u00c2\u00c3] "
)
FIXER = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    # Never put U+FFFD or cp1252 guesses in place of what the file says: repair or leave alone.
    replace_lossy_sequences=False,
    decode_inconsistent_utf8=True,
    fix_c1_controls=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=False,
    remove_control_chars=False,
    normalization=None,
    explain=True,
)
UTF8_STEPS = {("decode", "utf-8"), ("decode", "utf-8-variants"), ("apply", "decode_inconsistent_utf8")}
REASON = "double-encoded UTF-8 repaired"
REPAIR_SCHEMA = {"row_number": pl.Int64, "column": pl.Utf8, "raw_value": pl.Utf8}


def no_repairs() -> pl.DataFrame:
    return pl.DataFrame(schema=REPAIR_SCHEMA)


def repair_text(value: str) -> str | None:
    """The repaired text when `value` is double-encoded UTF-8, else None."""
    # Not fix_text: without explanations it runs the encoding fix with default options, not FIXER's.
    fixed, plan = ftfy.fix_encoding_and_explain(value, FIXER)
    if fixed == value or not UTF8_STEPS.intersection(plan or ()):
        return None
    # utf-8-variants can decode an overlong sequence to NUL or a surrogate: not text worth storing.
    if "\x00" in fixed or any(0xD800 <= ord(ch) <= 0xDFFF for ch in fixed):
        return None
    return fixed


def repair_cells(cells: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`cells` with the double-encoded cells of `columns` repaired, and one row per repaired cell:
    row_number, column, raw_value (the text as read)."""
    repairs: list[tuple[int, str, str]] = []
    replaced: list[pl.Series] = []
    # One select, so polars scans the columns in parallel; the regex runs only on cells holding non-ASCII.
    suspects = cells.select(
        pl.when(pl.col(name).str.len_bytes() != pl.col(name).str.len_chars())
        .then(pl.col(name).str.contains(PREFILTER))
        .fill_null(False)
        .alias(name)
        for name in columns
    )
    for name in columns:
        column = cells.get_column(name)
        positions = suspects.get_column(name).arg_true()
        if not positions.len():
            continue
        values = column.gather(positions).to_list()
        known = {value: repair_text(value) for value in set(values)}  # ftfy once per distinct value
        fixed = [known[value] for value in values]
        if all(new is None for new in fixed):
            continue
        numbers = cells.get_column("row_number").gather(positions).to_list()
        repairs += [
            (number, name, raw)
            for number, raw, new in zip(numbers, values, fixed, strict=True)
            if new is not None
        ]
        merged = pl.Series(
            [raw if new is None else new for raw, new in zip(values, fixed, strict=True)], dtype=pl.Utf8
        )
        replaced.append(column.clone().scatter(positions, merged))
    if not repairs:
        return cells, no_repairs()
    frame = pl.DataFrame(repairs, schema=REPAIR_SCHEMA, orient="row").sort("row_number", "column")
    return cells.with_columns(replaced), frame
