"""Survivorship (DESIGN 5.2) and the import-side status rules, on the real pipeline."""

from __future__ import annotations

from tests.conftest import INGEST_AND_MERGE


def contact(workspace, email):
    return workspace.one(
        "select first_name, last_name, tags, company, status, consent_source from contacts where email = ?",
        [email],
    )


def merged_counts(workspace):
    return workspace.query(
        "select path, rows_accepted, contacts_created, rows_merged, resubscribe_blocked from import_files order by file_id"
    )


def test_within_a_file_later_wins_empty_never_blanks_tags_union(workspace):
    workspace.drop(
        "one.csv",
        "email,first_name,last_name,tags,company\n"
        "pat@example.com,Pat,Old,a,Acme\n"
        '  PAT@Example.com ,,New,"B, c",\n'
        "pat@EXAMPLE.COM,Patricia,,a,\n",
    )
    workspace.run(only=INGEST_AND_MERGE)
    assert contact(workspace, "pat@example.com") == (
        "Patricia",
        "New",
        ["a", "b", "c"],
        "Acme",
        "subscribed",
        "test form",
    )
    assert workspace.one("select count(*) from contacts") == (1,)
    assert merged_counts(workspace) == [("inbox/contacts/one.csv", 3, 1, 2, 0)]


def test_across_files_ledger_order_decides(workspace):
    workspace.drop(
        "1-first.csv", "email,first_name,last_name,tags,company\nsam@example.com,Sam,Smith,x,Initech\n"
    )
    workspace.drop("2-second.csv", "email,first_name,last_name,tags,company\nSam@Example.com,Samuel,,y,\n")
    workspace.run(only=INGEST_AND_MERGE)
    assert contact(workspace, "sam@example.com") == (
        "Samuel",
        "Smith",
        ["x", "y"],
        "Initech",
        "subscribed",
        "test form",
    )
    assert [row[3] for row in merged_counts(workspace)] == [0, 1]


def test_unsubscribe_import_then_subscribe_import_is_blocked(workspace):
    workspace.drop("1-signup.csv", "email\nuna@example.com\n")
    workspace.drop(
        "2-unsub.csv", "email\nuna@example.com\nnever@example.com\n", manifest="mode: unsubscribe\n"
    )
    workspace.drop("3-again.csv", "email\nuna@example.com\nnever@example.com\nfresh@example.com\n")
    workspace.run(only=INGEST_AND_MERGE)
    statuses = dict(workspace.query("select email, status from contacts"))
    assert statuses == {
        "una@example.com": "unsubscribed",
        "never@example.com": "unsubscribed",
        "fresh@example.com": "subscribed",
    }
    assert [row[4] for row in merged_counts(workspace)] == [0, 0, 2]


def test_row_status_may_unsubscribe_but_never_resubscribe(workspace):
    workspace.drop("1.csv", "email,status\nrow@example.com,subscribed\nbye@example.com,unsubscribed\n")
    workspace.drop("2.csv", "email,status\nrow@example.com,Unsubscribed\nbye@example.com,subscribed\n")
    workspace.run(only=INGEST_AND_MERGE)
    assert dict(workspace.query("select email, status from contacts")) == {
        "row@example.com": "unsubscribed",
        "bye@example.com": "unsubscribed",
    }
    assert [row[4] for row in merged_counts(workspace)] == [0, 1]


def test_suppress_mode_blocks_later_subscription_of_non_contacts(workspace):
    workspace.drop("1-member.csv", "email\nmember@example.com\n")
    workspace.drop(
        "2-suppress.csv", "email\nmember@example.com\nstranger@example.com\n", manifest="mode: suppress\n"
    )
    workspace.drop("3-import.csv", "email\nstranger@example.com\n")
    workspace.run(only=INGEST_AND_MERGE)
    assert dict(workspace.query("select email, status from contacts")) == {
        "member@example.com": "unsubscribed",
        "stranger@example.com": "unsubscribed",
    }
    assert sorted(workspace.query("select email, reason from suppressions")) == [
        ("member@example.com", "manual"),
        ("stranger@example.com", "manual"),
    ]
    assert [row[2:] for row in merged_counts(workspace)] == [(1, 0, 0), (0, 1, 0), (1, 0, 1)]


def test_fold_provider_aliases_when_configured(workspace):
    config = workspace.paths.config_path
    config.write_text(config.read_text() + "rules:\n  fold_provider_aliases: true\n")
    workspace.drop("g.csv", "email\nJane.Doe+news@gmail.com\njanedoe@googlemail.com\nj.d+x@example.com\n")
    workspace.run(only=INGEST_AND_MERGE)
    assert sorted(e for (e,) in workspace.query("select email from contacts")) == [
        "j.d+x@example.com",
        "janedoe@gmail.com",
    ]


def test_unchanged_reimport_keeps_updated_at(workspace):
    workspace.drop("1.csv", "email,first_name\nkeep@example.com,Kay\n")
    workspace.run(only=INGEST_AND_MERGE)
    before = workspace.one("select updated_at from contacts")
    workspace.drop("2.csv", "email,first_name\nKEEP@example.com,Kay\n")
    workspace.run(only=INGEST_AND_MERGE)
    assert workspace.one("select updated_at from contacts") == before
