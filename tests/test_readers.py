"""The two delimited-text readers agree: wherever polars' fast reader takes a file, it gives the header,
cells and row numbers Python's csv reader gives. Random well-formed and malformed texts, plus cases
chosen to sit on the boundary of what the fast reader accepts."""

from __future__ import annotations

import csv
import io
import random
import sys

import pytest

from assets.ingest.delimited import _read_delimited_fast, _read_delimited_python
from assets.ingest.parsed_file import PY_WHITESPACE

PIECES = [
    "a",
    "Zoë",
    "x@y.com",
    " ",
    "  padded ",
    ",",
    ";",
    "\t",
    '"',
    '""',
    "\n",
    "\r\n",
    "é",
    "例",
    "",
    "1.5",
    "\\",
]


def records_of(parsed) -> tuple[list[str], list[tuple]]:
    """Header and rows with a missing cell and an empty cell told apart only as downstream does (both blank)."""
    rows = [tuple("" if cell is None else cell for cell in row) for row in parsed.cells.iter_rows()]
    return parsed.header, rows


def random_text(rng: random.Random, delimiter: str) -> str:
    width = rng.randint(1, 5)
    rows = [[f"h{i}" for i in range(width)]]
    for _ in range(rng.randint(0, 12)):
        row_width = width if rng.random() < 0.85 else rng.randint(0, width + 2)
        rows.append(["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 3))) for _ in range(row_width)])
    if rng.random() < 0.6:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=rng.choice(["\n", "\r\n"]))
        writer.writerows(rows)
        text = buffer.getvalue()
    else:  # hand-joined: stray quotes, embedded line ends, the lot
        text = "\n".join(delimiter.join(row) for row in rows)
    if rng.random() < 0.2:
        text = text.replace("\n", "\n\n", 1)
    if rng.random() < 0.1:
        text += rng.choice(["\n   \n", "\n,,\n", '\n"', "\r"])
    return text


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_fast_reader_agrees_with_python_reader(delimiter):
    rng = random.Random(delimiter)
    taken = 0
    for _ in range(1500):
        text = random_text(rng, delimiter)
        fast = _read_delimited_fast(text, delimiter)
        if fast is None:
            continue
        taken += 1
        python = _read_delimited_python(text, delimiter)
        assert not python.problems, repr(text)
        assert records_of(fast) == records_of(python), repr(text)
        assert (
            fast.cells.get_column("row_number").to_list() == python.cells.get_column("row_number").to_list()
        ), repr(text)
    assert taken > 300  # the fast reader must carry the common case, or this proves nothing


@pytest.mark.parametrize(
    "text",
    [
        'email,name\nx@y.com,"Smith, J"\n',
        'email,name\r\nx@y.com,"two\r\nlines"\r\n',
        "email,name\n\nx@y.com,a\n   \n,\ny@y.com\n",
        'email,name\nx@y.com,"say ""hi"""\n',
    ],
)
def test_fast_reader_takes_ordinary_quoting_and_blank_lines(text):
    fast = _read_delimited_fast(text, ",")
    assert fast is not None
    assert records_of(fast) == records_of(_read_delimited_python(text, ","))


@pytest.mark.parametrize(
    "text",
    [
        "email,name\nx@y.com,a,extra\n",  # wider than the header: the Python reader names the row
        'email,name\nx@y.com,ab"c\n',  # a quote inside an unquoted field
        'email,name\nx@y.com,"ab"c\n',  # text after a closing quote
        'email,name\nx@y.com, "ab"\n',  # a space before an opening quote
        "email,name\rx@y.com,a\r",  # bare CR line ends
        "\nemail,name\nx@y.com,a\n",  # the header is not on the first line
        'email,name\nx@y.com,"unclosed\n',
    ],
)
def test_fast_reader_leaves_doubtful_files_to_python(text):
    assert _read_delimited_fast(text, ",") is None


def test_py_whitespace_is_exactly_what_str_strip_removes():
    everything = "".join(chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())
    assert PY_WHITESPACE == everything
