"""Reviewed merges of two contacts (inbox/merges, README "Merge files"): real runs over a warehouse of two
contacts of one person (Ann under two addresses) and a third contact that must not move.

One warehouse is seeded per module, and one with the pair merged; each test that writes copies one of them."""

from __future__ import annotations

import pytest

from pipelines.warehouse.render import load_sql, render
from tests.conftest import THROUGH_METRICS, make_workspace

ANN = "ann@example.org"
ANN_B = "Ann.B@Example.org"  # the second address, as a file writes it
ANN_B_KEY = ANN_B.lower()  # its identity key
KEEP = "keep@example.org"
CARL = "carl@example.org"
# the shape of `contacts duplicates`' review file: the pair first, then what the reviewer read
MERGE_FILE = f"keep_email,merge_email,match_probability,keep_name\n{ANN},{ANN_B},0.97,Ann\n"
MERGE_PATH = "inbox/merges/2026-07-ann.csv"


def seed(workspace):
    workspace.drop(
        "01-newsletter.csv",
        "email,first_name,last_name,tags,company,created_at\n"
        f"{ANN},Ann,,vip,Acme,2026-01-10\n"
        f"{KEEP},Keep,Stable,,Keepers,2026-01-01\n",
    )
    workspace.drop(
        "02-webinar.csv",
        f"email,first_name,last_name,tags,company,created_at\n{ANN_B},Annie,Smith,customer,,2026-01-05\n",
        manifest="consent: confirmed\nmode: subscribe\nlists: [webinar-2026]\nsource: webinar\n",
    )
    # Ann B unsubscribes; Ann confirms later, so Ann alone is subscribed: a merge must not make the person
    # mailable again (the replay of both addresses' facts alone would, by the later confirm).
    workspace.drop(
        "01-events.csv",
        "email,event,occurred_at\n"
        f"{ANN},open,2026-06-10T10:00:00Z\n"
        f"{ANN_B},open,2026-06-20T10:00:00Z\n"
        f"{ANN_B},click,2026-06-21T10:00:00Z\n"
        f"{ANN_B},unsubscribe,2026-06-22T10:00:00Z\n"
        f"{ANN},confirm,2026-06-25T10:00:00Z\n"
        f"{KEEP},open,2026-06-11T10:00:00Z\n",
        folder="events",
    )
    workspace.run(only=THROUGH_METRICS)


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory):
    workspace = make_workspace(tmp_path_factory.mktemp("seeded"))
    seed(workspace)
    return workspace


@pytest.fixture(scope="module")
def merged_template(seeded_template, tmp_path_factory):
    """The seeded warehouse after one run with the reviewed pair (Ann B into Ann)."""
    workspace = seeded_template.copy_to(tmp_path_factory.mktemp("merged"))
    workspace.before = {  # what the tests compare with: ids, versions and statuses before the merge
        "ids": dict(workspace.query("select email, contact_id from contacts")),
        "statuses": dict(workspace.query("select email, status from contacts")),
        "created": dict(workspace.query("select email, created_at from contacts")),
        "version": workspace.one("select max(version) from versions")[0],
    }
    workspace.drop("2026-07-ann.csv", MERGE_FILE, folder="merges")
    workspace.run(only=THROUGH_METRICS)
    return workspace


@pytest.fixture
def merged(merged_template, tmp_path):
    copy = merged_template.copy_to(tmp_path / "merged")
    copy.before = merged_template.before
    return copy


def lost_rows(workspace) -> list[tuple]:
    return workspace.query(render(load_sql("checks/nothing_lost_per_file.sql")))


def test_the_kept_contact_takes_the_others_fields_lists_events_and_engagement(merged_template):
    workspace = merged_template
    before = workspace.before
    assert before["statuses"] == {ANN: "subscribed", ANN_B_KEY: "unsubscribed", KEEP: "subscribed"}
    # the kept contact keeps its id, the merged one leaves, the third is untouched
    assert dict(workspace.query("select email, contact_id from contacts")) == {
        ANN: before["ids"][ANN],
        KEEP: before["ids"][KEEP],
    }
    # later rows (ledger order) win for non-empty values, empty never blanks, tags union, earliest created_at
    first, last, company, tags, created = workspace.one(
        "select first_name, last_name, company, tags, created_at from contacts where email = ?", [ANN]
    )
    assert (first, last, company, tags) == ("Annie", "Smith", "Acme", ["customer", "vip"])
    assert created == before["created"][ANN_B_KEY] < before["created"][ANN]
    assert workspace.query(
        "select list_id from list_members where contact_id = ? and list_id not in ('all', 'subscribed', 'suppressed') order by list_id",
        [before["ids"][ANN]],
    ) == [("newsletter",), ("webinar-2026",)]
    # every event of both addresses is the kept contact's
    assert workspace.query(
        "select event, email from events where contact_id = ? order by occurred_at", [before["ids"][ANN]]
    ) == [
        ("open", ANN),
        ("open", ANN),
        ("click", ANN),
        ("unsubscribe", ANN),
        ("confirm", ANN),
    ]
    assert workspace.one("select count(*) from events where email = ?", [ANN_B_KEY]) == (0,)
    # the address each re-keyed row had stays for the audit
    assert workspace.query(
        "select kind, original_email, count(*) from staging.rekeyed_rows group by all order by kind"
    ) == [("contacts", ANN_B_KEY, 1), ("events", ANN_B_KEY, 3)]
    assert workspace.one(
        "select opens_30d, clicks_30d from contact_engagement where contact_id = ?", [before["ids"][ANN]]
    ) == (2, 1)
    assert workspace.one("select count(*) from contact_engagement") == (2,)


def test_a_merge_takes_the_most_restrictive_status_and_never_resubscribes(merged_template):
    workspace = merged_template
    # Ann was subscribed (a confirm after Ann B's unsubscribe), Ann B unsubscribed: the person is unsubscribed
    assert workspace.one("select status from contacts where email = ?", [ANN]) == ("unsubscribed",)
    assert workspace.query("select email, reason from suppressions where reason <> 'erased'") == [
        (ANN, "unsubscribed")
    ]
    (reason, source), *_ = workspace.query(
        "select reason, source from status_history where email = ? and valid_to is null", [ANN]
    )
    assert (reason, source) == ("merge", MERGE_PATH)
    assert workspace.one("select count(*) from status_history where email = ?", [ANN_B_KEY]) == (0,)
    assert workspace.one(
        "select count(*) from list_members where list_id = 'subscribed' and email = ?", [ANN]
    ) == (0,)


def test_the_merge_is_recorded_with_its_file_and_row_and_publishes_a_version(merged_template):
    workspace = merged_template
    file_id, status, totals, merged, merged_at, ignored = workspace.one(
        """select file_id, status, (rows_total, rows_accepted, rows_rejected), rows_merged, merged_at, ignored_columns
           from import_files where kind = 'merges'"""
    )
    assert (status, totals, merged, ignored) == ("loaded", (1, 1, 0), 1, ["match_probability", "keep_name"])
    assert merged_at is not None
    assert workspace.query(
        "select alias_email, kept_email, contact_id, file_id, row_number from contact_aliases"
    ) == [(ANN_B_KEY, ANN, workspace.before["ids"][ANN], file_id, 1)]
    assert lost_rows(workspace) == []
    # time travel before the merge still shows both contacts, the merge is a version of its own
    before = workspace.before["version"]
    assert workspace.query(f"select email from contacts_at({before}) order by email") == [
        (ANN_B_KEY,),
        (ANN,),
        (KEEP,),
    ]
    (after,) = workspace.one(
        "select max(version) from versions where list_contains(tables_changed, 'contacts')"
    )
    assert after > before
    assert workspace.query(f"select email from contacts_at({after}) order by email") == [(ANN,), (KEEP,)]


def test_a_later_file_of_the_merged_address_updates_the_kept_contact_and_cannot_resubscribe(merged):
    workspace = merged
    ann_id = workspace.before["ids"][ANN]
    workspace.drop(
        "03-later.csv",
        f"email,last_name,company\n{ANN_B.upper()},Later,Later Ltd\n{ANN},,\n",
        manifest="consent: confirmed\nmode: subscribe\nlists: [customers]\nsource: shop\n",
    )
    workspace.drop(
        "02-events.csv", f"email,event,occurred_at\n{ANN_B},open,2026-06-28T10:00:00Z\n", folder="events"
    )
    workspace.run(only=THROUGH_METRICS)
    assert dict(workspace.query("select email, contact_id from contacts")) == {
        ANN: ann_id,
        KEEP: workspace.before["ids"][KEEP],
    }
    assert workspace.one("select last_name, company, status from contacts where email = ?", [ANN]) == (
        "Later",
        "Later Ltd",
        "unsubscribed",
    )
    # both rows asked to subscribe an unsubscribed person: blocked, counted
    assert workspace.one("select resubscribe_blocked from import_files where path like '%03-later.csv'") == (
        2,
    )
    assert workspace.one("select count(*) from events where contact_id = ?", [ann_id]) == (6,)
    assert workspace.one(
        "select count(*) from list_members where list_id = 'customers' and contact_id = ?", [ann_id]
    ) == (1,)
    assert workspace.one("select opens_30d from contact_engagement where contact_id = ?", [ann_id]) == (3,)
    assert workspace.one("select count(*) from staging.contact_rows where email = ?", [ANN_B_KEY]) == (0,)


def test_bad_pairs_are_rejected_with_their_reason_and_nothing_is_lost(seeded_template, tmp_path):
    workspace = seeded_template.copy_to(tmp_path / "bad")
    workspace.drop("erase.csv", "email\nerased@example.org\n", folder="erasure")
    workspace.drop(
        "pairs.csv",
        "Keep Email,Merge Email\n"
        f",{ANN_B}\n"  # 1 missing keep_email
        f"{ANN},not-an-address\n"  # 2 invalid merge_email
        f"{ANN},nobody@example.org\n"  # 3 not a contact
        f"{ANN},{ANN.upper()}\n"  # 4 one address twice
        f"{ANN},erased@example.org\n"  # 5 erased
        f"{ANN},{ANN_B}\n"  # 6 merged
        f"{ANN_B},{ANN}\n",  # 7 now one contact
        folder="merges",
    )
    workspace.run(only=THROUGH_METRICS)
    rejects = workspace.query(
        """select r.row_number, r.reason, r.detail from rejected_rows r join import_files f using (file_id)
           where f.kind = 'merges' order by r.row_number"""
    )
    assert [(number, reason) for number, reason, _ in rejects] == [
        (1, "missing_email"),
        (2, "invalid_email"),
        (3, "unknown_contact"),
        (4, "same_contact"),
        (5, "erased"),
        (7, "same_contact"),
    ]
    details = {number: detail for number, _, detail in rejects}
    assert details[1] == "keep_email: no email address in the row"
    assert details[2].startswith("merge_email: ") and "@-sign" in details[2]  # email-validator's message
    assert details[3] == "merge_email: not a contact"
    assert all("@" not in detail for detail in details.values() if detail != details[2])
    assert workspace.one(
        "select rows_total, rows_accepted, rows_rejected, rows_merged from import_files where kind = 'merges'"
    ) == (7, 1, 6, 1)
    assert lost_rows(workspace) == []
    assert workspace.query("select email from contacts order by email") == [(ANN,), (KEEP,)]


def test_a_merge_file_without_the_two_columns_fails_and_changes_nothing(seeded_template, tmp_path):
    workspace = seeded_template.copy_to(tmp_path / "malformed")
    before = workspace.snapshot()
    workspace.drop("pairs.csv", f"email,other\n{ANN},{ANN_B}\n", folder="merges")
    workspace.run(only=THROUGH_METRICS)
    status, reason = workspace.one("select status, reason from import_files where kind = 'merges'")
    assert status == "failed"
    assert reason == (
        "inbox/merges/pairs.csv: a merge file needs the columns keep_email and merge_email; "
        "keep_email and merge_email not found, the header has 'email', 'other'"
    )
    after = workspace.snapshot()
    after["import_files"] = [row for row in after["import_files"] if row[2] != "merges"]
    assert after == before
    assert workspace.one("select count(*) from staging.contact_aliases") == (0,)


def assert_chain_ends_at_carl(workspace, events: int) -> None:
    """Ann B into Ann, then Ann into Carl: both are aliases of Carl, who holds everything."""
    ids = dict(workspace.query("select email, contact_id from contacts"))
    assert set(ids) == {CARL, KEEP} and ids[KEEP] == workspace.before["ids"][KEEP]
    assert ids[CARL] not in workspace.before["ids"].values()  # a new number: no id is given twice
    assert workspace.query(
        "select alias_email, kept_email, contact_id from contact_aliases order by alias_email"
    ) == [
        (ANN_B_KEY, CARL, ids[CARL]),
        (ANN, CARL, ids[CARL]),
    ]
    # Carl's file is the latest with a first name; the last name is still Ann B's
    assert workspace.one("select first_name, last_name, status from contacts where email = ?", [CARL]) == (
        "Carl",
        "Smith",
        "unsubscribed",
    )
    assert workspace.one("select count(*) from events where contact_id = ?", [ids[CARL]]) == (events,)
    assert workspace.one("select count(*) from events where contact_id is null") == (0,)
    assert workspace.query(
        "select list_id from list_members where contact_id = ? and list_id not in ('all', 'subscribed', 'suppressed') order by 1",
        [ids[CARL]],
    ) == [("newsletter",), ("webinar-2026",)]
    assert lost_rows(workspace) == []


def test_a_chain_of_merges_resolves_to_its_end(merged):
    workspace = merged
    # Carl arrives in the same run as the merge of Ann into Carl, and an event of Ann B (an alias of Ann)
    workspace.drop("04-carl.csv", f"email,first_name\n{CARL},Carl\n")
    workspace.drop(
        "03-events.csv", f"email,event,occurred_at\n{ANN_B},click,2026-06-29T10:00:00Z\n", folder="events"
    )
    workspace.drop("2026-08-carl.csv", f"keep_email,merge_email\n{CARL},{ANN}\n", folder="merges")
    workspace.run(only=THROUGH_METRICS)
    assert_chain_ends_at_carl(workspace, events=6)
    # the original address of a row re-keyed twice is the one it came with
    assert workspace.query(
        "select original_email, count(*) from staging.rekeyed_rows where kind = 'events' group by all order by 1"
    ) == [(ANN_B_KEY, 4), (ANN, 2)]


def test_a_chain_within_one_file_resolves_row_by_row(seeded_template, tmp_path):
    workspace = seeded_template.copy_to(tmp_path / "chain")
    workspace.before = {"ids": dict(workspace.query("select email, contact_id from contacts"))}
    workspace.drop("04-carl.csv", f"email,first_name\n{CARL},Carl\n")
    workspace.drop("pairs.csv", f"keep_email,merge_email\n{ANN},{ANN_B}\n{CARL},{ANN}\n", folder="merges")
    workspace.run(only=THROUGH_METRICS)
    assert_chain_ends_at_carl(workspace, events=5)
    assert workspace.one("select rows_merged from import_files where kind = 'merges'") == (2,)


def traces(workspace, addresses: tuple[str, ...]) -> dict[str, list[str]]:
    """Files under the data directory, outside the inbox, holding any of the addresses (any case we store)."""
    found = {}
    for path in workspace.paths.data_dir.rglob("*"):
        if not path.is_file() or workspace.paths.inbox in path.parents:
            continue
        data = path.read_bytes().lower()
        hits = sorted(address for address in addresses if address.lower().encode() in data)
        if hits:
            found[path.name] = hits
    return found


@pytest.mark.parametrize("asked", [ANN, ANN_B], ids=["the kept address", "the alias"])
def test_erasing_either_address_erases_the_person(merged, asked):
    workspace = merged
    assert set(traces(workspace, (ANN, ANN_B))) >= {"warehouse.duckdb"}
    workspace.drop("request.csv", f"email\n{asked}\n", folder="erasure")
    workspace.run(only=THROUGH_METRICS)
    assert traces(workspace, (ANN, ANN_B)) == {}
    assert workspace.query("select email from contacts") == [(KEEP,)]
    assert workspace.one("select count(*) from contact_aliases") == (0,)
    assert workspace.one("select count(*) from staging.merge_rows") == (0,)
    assert workspace.one("select count(*) from staging.rekeyed_rows") == (0,)
    assert workspace.one("select count(*) from suppressions where reason = 'erased'") == (2,)
    assert lost_rows(workspace) == []
    # neither address comes back
    workspace.drop("05-again.csv", f"email\n{ANN}\n{ANN_B}\n")
    workspace.run(only=THROUGH_METRICS)
    assert workspace.query("select email from contacts") == [(KEEP,)]
