"""CSV as spreadsheets and people write it: Excel's `sep=` line, a space before a quoted cell, and
double-encoded UTF-8. Reader-level cases first, then real files through the whole pipeline."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from assets.ingest.delimited import _read_delimited
from assets.ingest.dialects import excel_separator, has_spaced_quotes
from assets.ingest.mojibake import REASON, repair_text
from assets.ingest.parsed_file import FileFailed
from assets.ingest.readers import read_file
from tests.conftest import INGEST_AND_MERGE


def rows_of(parsed) -> list[tuple]:
    return [tuple(row) for row in parsed.cells.iter_rows()]


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"sep=;\nemail;name\nx@y.com;A,B\n", ";"),
        (codecs.BOM_UTF8 + b"sep=;\r\nemail;name\r\nx@y.com;A,B\r\n", ";"),
        (b'sep=,\nemail,name\nx@y.com,"A,B"\n', ","),
        (b"sep=\t\nemail\tname\nx@y.com\tA,B\n", "\t"),
        (b"SEP=|\nemail|name\nx@y.com|A,B\n", "|"),
        (b'"sep=;";;\nemail;name\nx@y.com;A,B\n', ";"),  # quoted and padded to the sheet's width
        ("sep=;\r\nemail;name\r\nx@y.com;A,B\r\n".encode("utf-16"), ";"),
    ],
)
def test_excel_sep_line_names_the_delimiter_and_is_not_a_row(data, delimiter):
    parsed = read_file(Path("excel.csv"), data)
    assert (parsed.header, parsed.delimiter, parsed.rows_total) == (["email", "name"], delimiter, 1)
    assert rows_of(parsed) == [(1, "x@y.com", "A,B")]


def test_sep_line_wins_over_the_suffix_and_the_sniffer():
    parsed = read_file(Path("export.tsv"), b"sep=;\nemail;name;tags\nx@y.com;A;a\tb\n")
    assert (parsed.delimiter, rows_of(parsed)) == (";", [(1, "x@y.com", "A", "a\tb")])


@pytest.mark.parametrize(
    "text", ["sep=;x\nemail\n", "email,sep=;\n", " sep=;\n", "sep=\nemail\n", 'sep="\n', "sep=a\n"]
)
def test_only_a_real_sep_line_is_taken_for_one(text):
    assert excel_separator(text) is None


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        (
            'email,first_name,last_name\nfoo3@example.com, "Foo 3", "Bar3"\n',
            [(1, "foo3@example.com", "Foo 3", "Bar3")],
        ),
        (
            'email,first_name,last_name\nx@y.com, "Smith, J", "O""Brien"\n',
            [(1, "x@y.com", "Smith, J", 'O"Brien')],
        ),
        # spaces after the closing quote mean nothing else (they are trimmed downstream like any other)
        ('email,first_name,last_name\nx@y.com , "Foo" , "Bar"  \n', [(1, "x@y.com ", "Foo ", "Bar  ")]),
        (
            'email,first_name,last_name\nx@y.com, "two\nlines", O"Brien\n',
            [(1, "x@y.com", "two\nlines", 'O"Brien')],
        ),
        ('email;first_name;last_name\nx@y.com; "A; B";   \n', [(1, "x@y.com", "A; B", "")]),
    ],
)
def test_a_quote_after_a_space_opens_a_quoted_cell(text, rows):
    parsed = _read_delimited(text, None, clean=True)
    assert (rows_of(parsed), parsed.problems) == (rows, [])


def test_text_after_a_closing_quote_rejects_only_its_record():
    text = 'email,first_name\na@example.com, "Foo" Bar\nb@example.com,"ab"c\nc@example.com, "Fine"\n'
    parsed = _read_delimited(text, None, clean=True)
    assert rows_of(parsed) == [(3, "c@example.com", "Fine")]
    assert [(p.row_number, p.raw) for p in parsed.problems] == [
        (1, 'a@example.com, "Foo" Bar'),
        (2, 'b@example.com,"ab"c'),
    ]
    assert (
        parsed.problems[0].detail
        == "text after the closing quote of a quoted cell (expected ',' or a line end)"
    )


def test_quotes_inside_cells_and_blank_cells_read_as_before():
    # `, "` inside a quoted cell is not a spaced quote: the file reads as RFC 4180, leading spaces kept.
    text = 'email,note,other\nx@y.com,"Hi, ""you"" there",  padded\ny@y.com,O"Brien,   \n'
    assert not has_spaced_quotes(text, ",")
    parsed = _read_delimited(text, None, clean=True)
    assert rows_of(parsed) == [
        (1, "x@y.com", 'Hi, "you" there', "  padded"),
        (2, "y@y.com", 'O"Brien', "   "),
    ]


def test_an_unclosed_quote_after_a_space_still_fails_the_file():
    with pytest.raises(FileFailed, match="unbalanced quote"):
        _read_delimited('email,first_name\na@example.com, "never closed\nb@example.com,B\n', None, clean=True)


def test_spaced_quotes_never_crash_the_reader():
    """Random hand-edited texts: every outcome is rows, problems or a failed file, never another error."""
    rng = random.Random(7)
    pieces = ["a", " ", '"', ' "', '" ', '""', ",", "\n", "\r\n", "x@y.com", "é"]
    for _ in range(3000):
        text = "h0,h1\n" + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        try:
            parsed = _read_delimited(text, ",")
        except FileFailed:
            continue
        assert parsed.rows_total == parsed.cells.height + len(parsed.problems)


@pytest.mark.parametrize(
    ("mojibake", "repaired"),
    [
        ("JosÃ© MÃ¼ller", "José Müller"),
        ("Ã‰milie", "Émilie"),
        ("donâ€™t", "don’t"),
        ("voilÃ le", "voilà le"),  # the no-break space of à, lost to a space
        ("ÃƒÂ©", "é"),  # encoded twice over
        ("josÃ©@example.com", "josé@example.com"),
        ("ÐŸÑ€Ð¸Ð²ÐµÑ‚", "Привет"),
    ],
)
def test_double_encoded_utf8_is_repaired(mojibake, repaired):
    assert repair_text(mojibake) == repaired


@pytest.mark.parametrize(
    "text", ["JOÃO", "Âge", "José Müller", "« Ça »", "“curly” ﬁ ＬＯＵＤ", "m²", "Ã¥ngström x"]
)
def test_legitimate_text_is_left_alone(text):
    assert repair_text(text) is None


def test_repair_keeps_quotes_width_and_line_breaks_of_the_rest():
    assert repair_text("MÃ¶ller “Jay” ﬁ ＬＯ\r\nline") == "Möller “Jay” ﬁ ＬＯ\r\nline"


def test_reader_repairs_cells_and_lists_them():
    parsed = read_file(
        Path("x.csv"), "email,first_name\njosÃ©@example.com,ZoÃ«\nok@example.com,JOÃO\n".encode()
    )
    assert rows_of(parsed) == [(1, "josé@example.com", "Zoë"), (2, "ok@example.com", "JOÃO")]
    assert parsed.repairs.rows() == [(1, "c0", "josÃ©@example.com"), (1, "c1", "ZoÃ«")]


# Through the whole pipeline.


def ledger(workspace, name):
    return workspace.one(
        "select status, delimiter, rows_total, rows_accepted, rows_rejected from import_files where path = ?",
        [f"inbox/contacts/{name}"],
    )


def rejects(workspace, name):
    return workspace.query(
        """select r.row_number, r.reason, r.detail, r.raw from rejected_rows r join import_files f using (file_id)
           where f.path = ? order by r.row_number""",
        [f"inbox/contacts/{name}"],
    )


def test_excel_files_with_a_sep_line_load(workspace):
    workspace.drop(
        "a-semicolon.csv",
        codecs.BOM_UTF8
        + "sep=;\r\nE-Mail;Vorname;tags\r\nnot-an-address;X;\r\nsemi@example.com;Jürgen;a,b\r\n".encode(),
    )
    workspace.drop("b-tab.txt", b"sep=\t\nemail\tfirst_name\ntab@example.com\tTab\n")
    workspace.drop("c-pipe.csv", b"sep=|\nemail|first_name\npipe@example.com|Pipe, Jr\n")
    workspace.run(only=INGEST_AND_MERGE)
    assert ledger(workspace, "a-semicolon.csv") == ("loaded", ";", 2, 1, 1)
    assert ledger(workspace, "b-tab.txt") == ("loaded", "\t", 1, 1, 0)
    assert ledger(workspace, "c-pipe.csv") == ("loaded", "|", 1, 1, 0)
    # Row numbers count records after the header, as everywhere: the sep line is no row.
    assert [row[:2] for row in rejects(workspace, "a-semicolon.csv")] == [(1, "invalid_email")]
    assert workspace.query("select email, first_name, tags from contacts order by email") == [
        ("pipe@example.com", "Pipe, Jr", []),
        ("semi@example.com", None, ["a", "b"]),
        ("tab@example.com", "Tab", []),
    ]


def test_space_before_quoted_cells_in_a_hand_edited_file(workspace):
    content = (
        "email,first_name,last_name,company\n"
        'foo3@example.com, "Foo 3", "Bar3", "Acme, Inc"\n'
        'foo4@example.com, "Foo" Bar, x, y\n'
        'obrien@example.com, Pat, O"Brien,   \n'
    )
    workspace.drop("hand-edited.csv", content)
    workspace.run(only=INGEST_AND_MERGE)
    assert ledger(workspace, "hand-edited.csv") == ("loaded", ",", 3, 2, 1)
    assert workspace.query("select email, first_name, last_name, company from contacts order by email") == [
        ("foo3@example.com", "Foo 3", "Bar3", "Acme, Inc"),
        ("obrien@example.com", "Pat", 'O"Brien', None),
    ]
    assert rejects(workspace, "hand-edited.csv") == [
        (
            2,
            "unparseable",
            "text after the closing quote of a quoted cell (expected ',' or a line end)",
            'foo4@example.com, "Foo" Bar, x, y',
        ),
    ]
    assert workspace.one("select count(*) from field_issues") == (0,)


def test_double_encoded_utf8_is_repaired_and_recorded(workspace):
    # What Excel makes of a UTF-8 file it read as cp1252 and saved again as UTF-8.
    content = (
        "email,first_name,last_name,company\n"
        "jose@example.com,JosÃ©,MÃ¼ller,CafÃ© â€œZurâ€\x9d Post\n"
        "renÃ©e@example.com,RenÃ©e,,\n"
        "joao@example.com,JOÃO,Ångström,Âge d’or\n"
        "not-an-address-Ã©,ZoÃ«,,\n"
    )
    workspace.drop("excel-roundtrip.csv", content.encode("utf-8"))
    workspace.run(only=INGEST_AND_MERGE)
    assert ledger(workspace, "excel-roundtrip.csv") == ("loaded", ",", 4, 3, 1)
    assert workspace.query("select email, first_name, last_name, company from contacts order by email") == [
        ("joao@example.com", "JOÃO", "Ångström", "Âge d’or"),
        ("jose@example.com", "José", "Müller", "Café “Zur” Post"),
        ("renée@example.com", "Renée", None, None),
    ]
    assert workspace.query(
        "select row_number, field, raw_value, reason from field_issues order by row_number, field"
    ) == [
        (1, "company", "CafÃ© â€œZurâ€\x9d Post", REASON),
        (1, "first_name", "JosÃ©", REASON),
        (1, "last_name", "MÃ¼ller", REASON),
        (2, "email", "renÃ©e@example.com", REASON),
        (2, "first_name", "RenÃ©e", REASON),
    ]
    assert [row[:2] for row in rejects(workspace, "excel-roundtrip.csv")] == [(4, "invalid_email")]


def test_event_files_are_repaired_too(workspace):
    workspace.drop("contacts.csv", "email\nrenée@example.com\n")
    events = "sep=;\nemail;event;occurred_at;campaign_id\nrenÃ©e@example.com;open;2026-06-01T10:00:00Z;Ã‰tÃ©-2026\n"
    workspace.drop("events.csv", events.encode(), folder="events")
    workspace.run(only=INGEST_AND_MERGE)
    assert workspace.query("select email, event, campaign_id, contact_id is not null from events") == [
        ("renée@example.com", "open", "Été-2026", True)
    ]
    assert workspace.query("select field, raw_value from field_issues order by field") == [
        ("campaign_id", "Ã‰tÃ©-2026"),
        ("email", "renÃ©e@example.com"),
    ]
