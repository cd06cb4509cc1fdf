"""Bad input: each case has a defined outcome, and nothing is lost (every row accepted or rejected)."""

from __future__ import annotations

import codecs
import gzip

import polars as pl
import pytest

from tests.conftest import INGEST_AND_MERGE, make_workspace

GOOD_FILE = "email,first_name\ngood@example.com,Good\n"


def ledger(workspace, name):
    row = workspace.query(
        """select status, reason, encoding, delimiter, rows_total, rows_accepted, rows_rejected, ignored_columns
           from import_files where path = ?""",
        [f"inbox/contacts/{name}"],
    )
    assert len(row) == 1, row
    keys = (
        "status",
        "reason",
        "encoding",
        "delimiter",
        "rows_total",
        "rows_accepted",
        "rows_rejected",
        "ignored_columns",
    )
    return dict(zip(keys, row[0], strict=True))


def rejects(workspace, name):
    return workspace.query(
        """select r.row_number, r.reason, r.detail from rejected_rows r join import_files f using (file_id)
           where f.path = ? order by r.row_number""",
        [f"inbox/contacts/{name}"],
    )


def names(workspace):
    return dict(workspace.query("select email, first_name from contacts"))


# Every file of the one-file cases below, beside one good file, in one run: each outcome is its own file's.
ONE_FILE_CASES = {
    "bom.csv": (codecs.BOM_UTF8 + "Email,First Name\nzoë@example.com,Zoë\n".encode(), "consent: confirmed\n"),
    **{
        f"wide-{codec}.csv": (
            (codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE)
            + "email\tfirst_name\r\nmaría@example.com\tMaría\r\n".encode(codec),
            "consent: confirmed\n",
        )
        for codec in ("utf-16-le", "utf-16-be")
    },
    "legacy.csv": (
        "email,first_name\nmueller@example.com,Jürgen “Jay” Müller\n".encode("cp1252"),
        "consent: confirmed\n",
    ),
    "semi.csv": ("email;first_name;tags\nsemi@example.com;Semi;a,b\n", "consent: confirmed\n"),
    "multi.csv": (
        'email,first_name\nq1@example.com,"Line one\nline two"\nq2@example.com,Two\n',
        "consent: confirmed\n",
    ),
    "ragged.csv": (
        "email,first_name,last_name\nshort@example.com\nlong@example.com,Lo,Ng,extra\ntrail@example.com,Tr,Ail,\n",
        "consent: confirmed\n",
    ),
    "dupes.csv": (
        "email,E-Mail,,first_name,First Name,notes\nfirst@example.com,second@example.com,x,Ann,Anna,n\n",
        "consent: confirmed\n",
    ),
    "header-only.csv": ("email,first_name\n", "consent: confirmed\n"),
    "nul.csv": (b"email,first_name\nn1@example.com,A\x00B\nn2@example.com,Ok\n", "consent: confirmed\n"),
    "mixed.csv": (
        "email,first_name\nu1@example.com,Renée\n".encode()
        + b"u2@example.com,Bad\xff\xfeName\n"
        + "u3@example.com,Zoë\n".encode(),
        "consent: confirmed\n",
    ),
    "formulas.csv": (
        'email,first_name,last_name,company\nf@example.com,=SUM(A1),@handle,"+44 123"\nm@example.com,-5,"=cmd|\' /C calc\'!A0",\n',
        "consent: confirmed\n",
    ),
    "promo.csv": ("email\npromo@example.com\n", "consent: confirmed\nlists: [newsletter, black-friday]\n"),
    "typo.csv": ("email\nt@example.com\n", "consent: confirmed\nmdoe: subscribe\n"),
    "pending-none.csv": ("email\npending@example.com\n", None),
    "pending-mode.csv": ("email\npending@example.com\n", "mode: subscribe\n"),
    "pending-maybe.csv": ("email\npending@example.com\n", "consent: maybe\n"),
    "all-bad.csv": (b"email,name\na@example.com,b,c\nd@example.com,\x00\n", "consent: confirmed\n"),
    "headless.csv": ("private@example.com,Private\n", "consent: confirmed\n"),
}


@pytest.fixture(scope="module")
def one_file_cases(tmp_path_factory):
    workspace = make_workspace(tmp_path_factory.mktemp("one-file-cases"))
    workspace.drop("a-good.csv", GOOD_FILE)
    for name, (content, manifest) in ONE_FILE_CASES.items():
        workspace.drop(name, content, manifest)
    workspace.run(only=INGEST_AND_MERGE)
    assert ledger(workspace, "a-good.csv")["status"] == "loaded"
    return workspace


@pytest.fixture
def run_one(one_file_cases):
    """The outcome of one file of ONE_FILE_CASES, loaded beside the others and a good file in one real run."""

    def outcome_of(name):
        outcome = ledger(one_file_cases, name)
        if outcome["status"] == "loaded":
            assert outcome["rows_total"] == outcome["rows_accepted"] + outcome["rows_rejected"]
        return outcome

    return outcome_of


def raw_rejects(workspace, name, reason="unparseable"):
    return workspace.query(
        """select r.raw from rejected_rows r join import_files f using (file_id)
           where f.path = ? and r.reason = ? order by r.row_number""",
        [f"inbox/contacts/{name}", reason],
    )


def test_utf8_with_bom(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("bom.csv")
    assert (outcome["status"], outcome["encoding"], outcome["rows_accepted"]) == ("loaded", "utf-8-sig", 1)
    assert names(workspace)["zoë@example.com"] == "Zoë"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(run_one, one_file_cases, codec):
    workspace = one_file_cases
    outcome = run_one(f"wide-{codec}.csv")
    assert (outcome["status"], outcome["encoding"], outcome["delimiter"], outcome["rows_accepted"]) == (
        "loaded",
        "utf-16",
        "\t",
        1,
    )
    assert names(workspace)["maría@example.com"] == "María"


def test_cp1252_fallback(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("legacy.csv")
    assert (outcome["status"], outcome["encoding"]) == ("loaded", "cp1252")
    assert names(workspace)["mueller@example.com"] == "Jürgen “Jay” Müller"


def test_semicolon_delimiter(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("semi.csv")
    assert (outcome["delimiter"], outcome["rows_accepted"]) == (";", 1)
    assert workspace.one("select tags from contacts where email = 'semi@example.com'") == (["a", "b"],)


def test_quoted_newlines(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("multi.csv")
    assert (outcome["rows_total"], outcome["rows_accepted"]) == (2, 2)
    assert names(workspace)["q1@example.com"] == "Line one\nline two"


def test_ragged_rows(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("ragged.csv")
    assert (outcome["rows_total"], outcome["rows_accepted"], outcome["rows_rejected"]) == (3, 2, 1)
    assert rejects(workspace, "ragged.csv") == [(2, "unparseable", "has 4 fields but the header has 3")]
    assert raw_rejects(workspace, "ragged.csv") == [("long@example.com,Lo,Ng,extra",)]
    assert "short@example.com" in names(workspace) and names(workspace)["trail@example.com"] == "Tr"


def test_duplicate_and_blank_headers(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("dupes.csv")
    assert outcome["rows_accepted"] == 1
    assert names(workspace)["first@example.com"] == "Ann"
    assert "second@example.com" not in names(workspace)
    assert outcome["ignored_columns"] == [
        "E-Mail (duplicate of column 1 for email)",
        "First Name (duplicate of column 4 for first_name)",
        "(blank header, column 3)",
        "notes",
    ]


UNREADABLE = [
    ("empty.csv", b"", "empty file: a header row is required"),
    ("blank-lines.csv", b"\n\n  \n", "empty file: a header row is required"),
    ("no-email.csv", b"name,phone\nTrent,555\n", "no email column: headers are 'name', 'phone'"),
    ("no-header.csv", b"lost@example.com,Lost\nfound@example.com,Found\n", "seems to lack a header row"),
    # every header is listed (not the first ten), and the column that holds addresses is pointed at
    (
        "wide.csv",
        b"h1,h2,h3,h4,h5,h6,h7,h8,h9,h10,h11,Kontakt\n1,2,3,4,5,6,7,8,9,10,11,k@example.com\n",
        "'h11', 'Kontakt'; expected one of email, e-mail, email address, email_address, e-mail address; "
        "column 12 ('Kontakt') holds addresses: map it with `columns: {'Kontakt': email}`",
    ),
    ("binary.csv", bytes(range(256)) * 40, "binary content"),
    ("unbalanced.csv", b'email,first_name\na@example.com,"never closed\n', "malformed CSV"),
    ("broken.csv.gz", b"not gzip at all", "not a readable gzip file"),
    ("broken.parquet", b"PAR1 nonsense", "not a readable Parquet file"),
    ("notes.xlsx", b"PK\x03\x04", "unsupported file type"),
]


@pytest.fixture(scope="module")
def unreadable_run(tmp_path_factory):
    """Every unreadable file beside one good file, in one run: each must fail alone."""
    workspace = make_workspace(tmp_path_factory.mktemp("unreadable"))
    workspace.drop("a-good.csv", GOOD_FILE)
    for name, content, _ in UNREADABLE:
        workspace.drop(name, content, "consent: confirmed\n")
    workspace.run(only=INGEST_AND_MERGE)
    return workspace


@pytest.mark.parametrize(("name", "content", "reason"), UNREADABLE, ids=[case[0] for case in UNREADABLE])
def test_unreadable_files_fail_alone_and_change_nothing(unreadable_run, name, content, reason):
    workspace = unreadable_run
    assert ledger(workspace, "a-good.csv")["status"] == "loaded"
    outcome = ledger(workspace, name)
    assert outcome["status"] == "failed"
    assert reason in outcome["reason"]
    assert workspace.one("select count(*) from contacts") == (1,)
    assert workspace.one("select count(*) from rejected_rows") == (0,)


def test_header_only_file_loads_with_no_rows(run_one):
    outcome = run_one("header-only.csv")
    assert (outcome["status"], outcome["rows_total"], outcome["rows_accepted"], outcome["rows_rejected"]) == (
        "loaded",
        0,
        0,
        0,
    )


def test_nul_byte_rejects_only_its_row(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("nul.csv")
    assert (outcome["rows_accepted"], outcome["rows_rejected"]) == (1, 1)
    assert rejects(workspace, "nul.csv") == [(1, "unparseable", "contains a NUL byte")]
    assert raw_rejects(workspace, "nul.csv") == [("n1@example.com,A\\x00B",)]


def test_invalid_utf8_mid_file_rejects_only_its_row(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("mixed.csv")
    assert (outcome["encoding"], outcome["rows_accepted"], outcome["rows_rejected"]) == ("utf-8", 2, 1)
    assert rejects(workspace, "mixed.csv") == [(2, "unparseable", "contains bytes that are not valid UTF-8")]
    assert raw_rejects(workspace, "mixed.csv") == [("u2@example.com,Bad\\xff\\xfeName",)]
    assert names(workspace)["u3@example.com"] == "Zoë"


def test_formulas_are_kept_verbatim(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("formulas.csv")
    assert outcome["rows_accepted"] == 2
    assert workspace.one(
        "select first_name, last_name, company from contacts where email = 'f@example.com'"
    ) == ("=SUM(A1)", "@handle", "+44 123")
    assert workspace.one("select first_name, last_name from contacts where email = 'm@example.com'") == (
        "-5",
        "=cmd|' /C calc'!A0",
    )


def test_manifest_naming_an_unknown_list_fails_the_file(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("promo.csv")
    assert outcome["status"] == "failed"
    assert "unknown list 'black-friday'" in outcome["reason"]
    assert "promo@example.com" not in names(workspace)


def test_manifest_with_a_bad_key_fails_the_file(run_one):
    outcome = run_one("typo.csv")
    assert outcome["status"] == "failed"
    assert "key 'mdoe'" in outcome["reason"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("pending-none.csv", "no manifest"),
        ("pending-mode.csv", "consent: confirmed"),
        ("pending-maybe.csv", "consent"),
    ],
)
def test_files_without_consent_are_held_or_failed(run_one, one_file_cases, name, reason):
    workspace = one_file_cases
    outcome = run_one(name)
    assert outcome["status"] in ("held", "failed")
    assert reason in outcome["reason"]
    assert "pending@example.com" not in names(workspace)


def test_gzip_tsv_jsonl_and_parquet(workspace):
    workspace.drop("a.tsv.gz", gzip.compress(b"email\tfirst_name\ngz@example.com\tGee\n"))
    workspace.drop("b.ndjson", '{"email": "js@example.com", "first_name": "Jay", "vip": true}\n[1, 2]\n')
    buffer = workspace.inbox / "c.parquet"
    pl.DataFrame(
        {"Email Address": ["pq@example.com"], "purchase_total": [12.5], "tags": [["x", "Y"]]}
    ).write_parquet(buffer)
    (workspace.inbox / "c.yaml").write_text("consent: confirmed\n")
    workspace.run(only=INGEST_AND_MERGE)
    assert names(workspace) == {"gz@example.com": "Gee", "js@example.com": "Jay", "pq@example.com": None}
    assert workspace.one("select vip from contacts where email = 'js@example.com'") == (True,)
    assert workspace.one("select purchase_total, tags from contacts where email = 'pq@example.com'") == (
        12.5,
        ["x", "y"],
    )
    assert rejects(workspace, "b.ndjson") == [(2, "unparseable", "expected a JSON object, got list")]


def test_typed_fields_and_field_issues(workspace):
    content = (
        "email,birthday,renewal,vip,employees,purchase_total,created_at,status\n"
        "t1@example.com,2001-02-03,31/12/2026,Yes,42,1e3,2026-01-01T10:00:00+02:00,subscribed\n"
        't2@example.com,03/02/2001,2026-12-31,maybe,4.5,"1,5",9999-01-01,pending\n'
        "t3@example.com,,,,,,,Subscribed-ish\n"
    )
    workspace.drop("typed.csv", content)
    workspace.run(only=INGEST_AND_MERGE)
    assert workspace.one(
        "select birthday, renewal, vip, employees, purchase_total from contacts where email = 't1@example.com'"
    )[:4] == (
        __import__("datetime").date(2001, 2, 3),
        __import__("datetime").date(2026, 12, 31),
        True,
        42,
    )
    issues = workspace.query(
        "select row_number, field, raw_value from field_issues order by row_number, field"
    )
    assert issues == [
        (2, "birthday", "03/02/2001"),
        (2, "created_at", "9999-01-01"),
        (2, "employees", "4.5"),
        (2, "purchase_total", "1,5"),
        (2, "renewal", "2026-12-31"),
        (2, "vip", "maybe"),
    ]
    assert workspace.one("select status from contacts where email = 't2@example.com'") == ("unconfirmed",)
    # A status word nothing maps never makes the row mailable: it is rejected, naming the word and the key.
    (reason, detail), *_ = [row[1:] for row in rejects(workspace, "typed.csv") if row[0] == 3]
    assert reason == "unknown_status" and "'Subscribed-ish'" in detail and "status_values" in detail
    assert workspace.one("select count(*) from contacts where email = 't3@example.com'") == (0,)


def test_jsonl_values_may_hold_unicode_line_separators(workspace):
    raw = '{"email": "ls@example.com", "first_name": "A\u2028B\x85C"}\r\n{"email": "two@example.com"}\n'
    workspace.drop("seps.jsonl", raw.encode("utf-8"))
    workspace.run(only=INGEST_AND_MERGE)
    assert ledger(workspace, "seps.jsonl")["rows_total"] == 2
    assert names(workspace)["ls@example.com"] == "A\u2028B\x85C"


def test_file_whose_every_row_is_unparseable(run_one, one_file_cases):
    workspace = one_file_cases
    outcome = run_one("all-bad.csv")
    assert (outcome["status"], outcome["rows_total"], outcome["rows_rejected"]) == ("loaded", 2, 2)
    assert [row[:2] for row in rejects(workspace, "all-bad.csv")] == [(1, "unparseable"), (2, "unparseable")]


def test_headerless_file_reason_does_not_quote_the_address(run_one):
    outcome = run_one("headless.csv")
    assert outcome["status"] == "failed" and "private@example.com" not in outcome["reason"]
