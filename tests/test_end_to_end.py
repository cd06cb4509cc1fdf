"""The bundled samples through real Dagster materializations into a DuckDB file in tmp_path."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg

from assets.audience.asset_defs import build_segment_assets, lists_and_members
from assets.audience.segments import discover_segments
from assets.contacts.asset_defs import contact_engagement, contacts_statuses_and_events
from assets.erasure.asset_defs import erasure_log
from assets.ingest.asset_defs import ledger_and_rejects
from pipelines.as_of import AS_OF_TAG
from pipelines.resources import ContactsWarehouse
from tests.conftest import THROUGH_METRICS


def test_samples_materialize_with_exact_counts(workspace):
    workspace.copy_samples()
    workspace.use_shipped_segments()
    result = dg.materialize(
        [
            erasure_log,
            ledger_and_rejects,
            contacts_statuses_and_events,
            contact_engagement,
            lists_and_members,
            *build_segment_assets(discover_segments(workspace.paths.segments_dir)),
        ],
        resources={
            "warehouse": ContactsWarehouse(
                data_dir=str(workspace.paths.data_dir), config_path=str(workspace.paths.config_path)
            )
        },
        instance=dg.DagsterInstance.ephemeral(),
        tags={AS_OF_TAG: "2026-06-30"},
    )
    assert result.success
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()
    }
    assert checks == {
        ("import_files", "nothing_lost_per_file"): True,
        (
            "import_files",
            "every_file_of_this_run_loaded",
        ): False,  # legacy-export.csv fails, partner-leads.csv is held
        ("contacts", "one_contact_per_email"): True,
        ("contacts", "no_erased_address_anywhere"): True,
        ("suppressions", "status_matches_suppression"): True,
        ("erasure_log", "every_erasure_request_applied"): True,
    }

    ledger = {
        path.rsplit("/", 1)[1]: (status, encoding, delimiter, total, accepted, rejected, merged)
        for path, status, encoding, delimiter, total, accepted, rejected, merged in workspace.query(
            "select path, status, encoding, delimiter, rows_total, rows_accepted, rows_rejected, rows_merged from import_files"
        )
    }
    assert ledger == {
        # alice twice (merged), erin@@ invalid, one row without an address
        "2026-01-newsletter-signups.csv": ("loaded", "utf-8", ",", 9, 7, 2, 1),
        # cp1252, semicolons, German headers mapped by the manifest; bob and CAROL already known;
        # judy was erased by the erasure request, which is applied first
        "2026-02-webinar-attendees.csv": ("loaded", "cp1252", ";", 5, 3, 2, 2),
        # one line of broken JSON; dave already known
        "2026-03-crm-export.jsonl": ("loaded", "utf-8", None, 5, 4, 1, 1),
        "2026-04-unsubscribes.csv": ("loaded", "utf-8", ",", 2, 2, 0, 1),
        "2026-05-shop-customers.parquet": ("loaded", None, None, 3, 3, 0, 2),
        "legacy-export.csv": ("failed", None, None, None, None, None, None),
        "partner-leads.csv": ("held", None, None, None, None, None, None),
        # one unknown event name, one timestamp that is not ISO 8601
        "2026-06-campaign-events.csv": ("loaded", "utf-8", ",", 35, 33, 2, None),
        "2026-07-erasure-requests.csv": ("loaded", "utf-8", ",", 1, 1, 0, None),
    }
    # 12 from contact files, judy erased, rita from a signup + confirm event
    assert workspace.one("select count(*) from contacts") == (13,)
    assert dict(workspace.query("select status, count(*) from contacts group by status")) == {
        "subscribed": 8,
        "unsubscribed": 2,
        "bounced": 2,
        "complained": 1,
    }
    statuses = dict(workspace.query("select email, status from contacts"))
    assert (statuses["dave@example.net"], statuses["heidi@example.com"], statuses["kim@example.com"]) == (
        "bounced",
        "complained",
        "bounced",
    )
    assert (statuses["quinn@example.com"], statuses["leo@example.com"], statuses["rita@example.com"]) == (
        "subscribed",
    ) * 3
    assert sorted(workspace.query("select reason, count(*) from rejected_rows group by reason")) == [
        ("bad_timestamp", 1),
        ("erased", 1),
        ("invalid_email", 2),
        ("missing_email", 1),
        ("unknown_event", 1),
        ("unparseable", 1),
    ]
    assert sorted(workspace.query("select field, raw_value from field_issues")) == [
        ("birthday", "1985-13-01"),
        ("employees", "twelve"),
        ("purchase_total", "abc"),
        ("value", "12,50"),
    ]
    # sam unsubscribed by event without being a contact: suppressed all the same
    assert workspace.one("select reason from suppressions where email = 'sam@example.com'") == (
        "unsubscribed",
    )
    assert workspace.one("select count(*) from events where contact_id is null") == (1,)
    assert workspace.one(
        "select consent_method, consent_source from contacts where email = 'rita@example.com'"
    ) == ("double_opt_in", "list newsletter")
    assert workspace.one("select count(*) from contacts where email like 'judy%'") == (0,)

    # lists: manifests, signup events and the system lists
    assert dict(workspace.query("select list_id, member_count from lists")) == {
        "all": 13,
        "subscribed": 8,
        "suppressed": 5,
        "newsletter": 8,
        "webinar-2026": 3,
        "customers": 6,
        "seed-tests": 0,
    }
    # the shipped segments, as of 2026-06-30 (see the sample files for why each member qualifies)
    members = dict(
        workspace.query("select segment_id, list(email order by email) from segment_members group by all")
    )
    assert members == {
        "engaged-users": ["alice@example.com", "leo@example.com", "nina@example.com"],
        "engaged-newsletter": ["alice@example.com", "leo@example.com"],
        "high-value-customers": ["nina@example.com"],
        "new-subscribers": ["rita@example.com"],
        "sunset-candidates": ["grace@bücher.example"],
    }
    assert workspace.query("select version, as_of_date::varchar from versions") == [(1, "2026-06-30")]

    alice = workspace.one(
        "select first_name, last_name, tags, company, birthday, vip, purchase_total, consent_source from contacts where email = 'alice@example.com'"
    )
    # later non-empty values win, empty cells never blank, tags union; the parquet row had no total
    assert alice == (
        "Alice",
        "Archer-Smith",
        ["early-adopter", "newsletter", "vip"],
        "Acme GmbH",
        dt.date(1990, 4, 12),
        True,
        120.5,
        "Website newsletter form",
    )
    bob = workspace.one("select last_name, company, status from contacts where email = 'bob@example.org'")
    assert bob == ("Bäcker", "Bäckerei Bob", "unsubscribed")
    assert workspace.one("select first_name, last_name from contacts where email = 'carol@example.com'") == (
        "Carol",
        "Cooper",
    )
    assert workspace.one(
        "select email_domain, email_ascii from contacts where email = 'grace@bücher.example'"
    ) == (
        "bücher.example",
        "grace@xn--bcher-kva.example",
    )
    # a naive created_at is in the configured timezone (Europe/Berlin, UTC+1 in November)
    kim_created = workspace.one("select created_at from contacts where email = 'kim@example.com'")[0]
    assert kim_created.astimezone(dt.UTC) == dt.datetime(2025, 11, 20, 8, 15, tzinfo=dt.UTC)
    # formulas are data: stored as given, neutralised only when exported
    assert workspace.one("select company from contacts where email = 'heidi@example.com'") == (
        '=HYPERLINK("http://x")',
    )


def test_contact_ids_are_stable_across_runs_and_new_files(workspace):
    workspace.copy_samples()
    workspace.run(only=THROUGH_METRICS)
    before = dict(workspace.query("select email, contact_id from contacts"))
    workspace.drop("zz-late.csv", "email,first_name\nnew.person@example.com,New\nALICE@example.com,Alicia\n")
    workspace.run(only=THROUGH_METRICS)
    after = dict(workspace.query("select email, contact_id from contacts"))
    assert {email: after[email] for email in before} == before
    assert after["new.person@example.com"] == max(before.values()) + 1
    assert workspace.one("select first_name from contacts where email = 'alice@example.com'") == ("Alicia",)


def test_rerun_and_redropped_file_change_nothing(workspace):
    workspace.copy_samples()
    workspace.run(only=THROUGH_METRICS)
    first = workspace.snapshot()

    workspace.run(only=THROUGH_METRICS)
    assert workspace.snapshot() == first

    # the same bytes under another name: recorded once as skipped, nothing else moves
    shutil.copyfile(
        workspace.inbox / "2026-01-newsletter-signups.csv", workspace.inbox / "copy-of-signups.csv"
    )
    shutil.copyfile(
        workspace.inbox / "2026-01-newsletter-signups.yaml", workspace.inbox / "copy-of-signups.yaml"
    )
    workspace.run(only=THROUGH_METRICS)
    second = workspace.snapshot()
    for table in first:
        if table != "import_files":
            assert second[table] == first[table], table
    new_rows = [row for row in second["import_files"] if row not in first["import_files"]]
    assert [(row[1], row[4]) for row in new_rows] == [("inbox/contacts/copy-of-signups.csv", "skipped")]
    # an event file dropped again under another name is skipped too
    shutil.copyfile(
        workspace.paths.event_inbox / "2026-06-campaign-events.csv", workspace.paths.event_inbox / "again.csv"
    )
    workspace.run(only=THROUGH_METRICS)
    third = workspace.snapshot()
    assert {t: third[t] for t in third if t != "import_files"} == {
        t: second[t] for t in second if t != "import_files"
    }
    second = third

    workspace.run(only=THROUGH_METRICS)
    assert workspace.snapshot() == second


def test_held_file_loads_once_its_manifest_is_fixed(workspace):
    workspace.copy_samples()
    workspace.run(only=THROUGH_METRICS)
    assert workspace.one("select status from import_files where path like '%partner-leads.csv'") == ("held",)
    (workspace.inbox / "partner-leads.yaml").write_text(
        "consent: confirmed\nsource: Partner\n", encoding="utf-8"
    )
    workspace.run(only=THROUGH_METRICS)
    assert workspace.query(
        "select status from import_files where path like '%partner-leads.csv' order by file_id"
    ) == [("held",), ("loaded",)]
    assert workspace.one(
        "select status, consent_source from contacts where email = 'peggy@partner.example'"
    ) == ("subscribed", "Partner")
