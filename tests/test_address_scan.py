"""Erasure and its check find addresses from the catalog: a table nobody told them about is covered, every
text type is read, and a neighbour whose address contains the erased one is left alone."""

from __future__ import annotations

import duckdb
import pytest

from assets.erasure.address_scan import LEDGER_TABLES, tokens_of_text_sql, unicode_form

ERASED = "ann@bücher.example.org"
ERASED_IDNA = "ann@xn--bcher-kva.example.org"
NEIGHBOUR = "joann@bücher.example.org"

TOMORROW = """
create table staging.tomorrow_cache (note varchar, payload json, data struct(e varchar), tags varchar[], n bigint);
insert into staging.tomorrow_cache values
    ('Ann.Upper: ANN@BÜCHER.EXAMPLE.ORG', null, null, null, 1),
    ('mailto:ann@xn--bcher-kva.example.org', null, null, null, 2),
    ('https://shop.example/?u=ann%40b%C3%BCcher.example.org&x=1', null, null, null, 3),
    ('https://shop.example/?u=ann%40xn--bcher-kva.example.org&x=1', null, null, null, 4),
    (null, '{"recipient": "ann@bücher.example.org"}', null, null, 5),
    (null, null, {'e': 'ann@bücher.example.org'}, null, 6),
    (null, null, null, ['x', 'ann@bücher.example.org'], 7),
    ('the neighbour joann@bücher.example.org', '{"to": "joann@xn--bcher-kva.example.org"}', {'e': 'joann@bücher.example.org'}, ['joann@bücher.example.org'], 8),
    ('nothing here', null, null, null, 9);
"""


def contacts_file():
    return f"email,first_name\n{ERASED},Ann\n{NEIGHBOUR},Jo\n"


def test_a_table_added_tomorrow_is_erased_from_and_checked(workspace):
    workspace.drop("01-contacts.csv", contacts_file())
    workspace.drop(f"from-{ERASED_IDNA}.csv", f"email,first_name\n{NEIGHBOUR},Jo Ann\n")
    workspace.run()
    con = duckdb.connect(str(workspace.paths.warehouse))
    con.execute(TOMORROW)
    con.close()

    # the user has removed that file from the inbox; its ledger row stays, with the address redacted
    (workspace.inbox / f"from-{ERASED_IDNA}.csv").unlink()
    workspace.drop("request.csv", f"email\n{ERASED_IDNA.upper()}\n", folder="erasure")
    workspace.run()
    # %C3%BC is the percent-encoded ü: not read (only %40 is), so row 3 stays; every other spelling went
    assert workspace.query("select n from staging.tomorrow_cache order by n") == [(3,), (8,), (9,)]
    assert workspace.query("select email, first_name from contacts") == [(NEIGHBOUR, "Jo Ann")]
    paths = [row[0] for row in workspace.query("select path from import_files order by file_id")]
    assert "inbox/contacts/from-[erased].csv" in paths and not [p for p in paths if "ann@" in p.lower()]


def test_the_check_names_the_table_an_erased_address_came_back_to(workspace):
    workspace.drop("01-contacts.csv", contacts_file())
    workspace.drop("request.csv", f"email\n{ERASED}\n", folder="erasure")
    workspace.run()
    con = duckdb.connect(str(workspace.paths.warehouse))
    con.execute("create table staging.tomorrow_cache (note varchar)")
    con.execute(
        "insert into staging.tomorrow_cache values (?), (?)",
        [f"from {ERASED_IDNA.upper()}", f"to {NEIGHBOUR}"],
    )
    con.close()
    result = workspace.run(expect_success=False)
    [check] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "no_erased_address_anywhere"
    ]
    assert not check.passed
    assert check.metadata["rows_with_erased_addresses"].value == 1
    assert check.metadata["tables_with_erased_addresses"].value == ["staging.tomorrow_cache"]


@pytest.mark.parametrize(
    "token, expected",
    [
        ("ann@xn--bcher-kva.example.org", "ann@bücher.example.org"),
        ("ann@example.org", "ann@example.org"),
        ("ann@xn--", None),
    ],
)
def test_unicode_form_of_an_idna_token(token, expected):
    assert unicode_form(token) == expected


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Mail O'Brien@Example.org.", ["o'brien@example.org", "brien@example.org"]),
        ("<x=y@b.de>, z@c.de", ["x=y@b.de", "y@b.de", "z@c.de"]),
    ],
)
def test_tokens_of_free_text(text, tokens):
    con = duckdb.connect()
    tokens_of_v = tokens_of_text_sql("replace(lower(v), '%40', '@')")
    found = con.execute(f"select list_distinct({tokens_of_v}) from (select ? as v)", [text]).fetchone()[0]
    assert sorted(set(found) - {text.lower().strip()}) == sorted(tokens)


def test_every_ledger_table_named_exists(workspace):
    # a renamed ledger table would silently lose its rows to erasure instead of being redacted
    workspace.drop("01-contacts.csv", contacts_file())
    workspace.run()
    tables = {
        row[0]
        for row in workspace.query(
            "select schema_name || '.' || table_name from duckdb_tables() where database_name = current_database()"
        )
    }
    assert LEDGER_TABLES <= tables, sorted(LEDGER_TABLES - tables)
