"""Dagster wrapper of `duplicate_candidates` (assets/contacts/duplicates.py): probable duplicates among the
current contacts, for a person to review (`contacts duplicates`) and merge with a file in inbox/merges/."""

import dagster as dg

from assets.contacts.duplicates import read_features, score, store_candidates
from pipelines.metadata import markdown_table, unchanged_metadata
from pipelines.resources import DUCKDB_POOL, ContactsWarehouse
from pipelines.warehouse.fingerprints import (
    StepInputs,
    config_token,
    data_tokens,
    record,
    relation_token,
    unchanged,
)

PAIRS_ARE_CONTACTS = "pairs_are_two_current_contacts"

PAIR_PROBLEMS_SQL = """
    select count(*) from staging.duplicate_candidates d
    left join staging.contacts a on a.contact_id = d.contact_id_a and a.email = d.email_a
    left join staging.contacts b on b.contact_id = d.contact_id_b and b.email = d.email_b
    where a.contact_id is null or b.contact_id is null or d.contact_id_a >= d.contact_id_b
       or d.match_probability < $min or d.match_probability > 1
"""


@dg.asset(
    deps=["contacts"],
    group_name="contacts",
    kinds={"duckdb"},
    pool=DUCKDB_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            PAIRS_ARE_CONTACTS,
            asset="duplicate_candidates",
            blocking=True,
            description="Every candidate pairs two different current contacts (a < b, with their addresses) at a "
            "probability between dedupe.min_probability and 1.",
        )
    ],
)
def duplicate_candidates(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse):
    """Pairs of current contacts that are probably one person under two addresses (splink, parameters estimated
    from the audience), with the probability and the comparisons that agreed. Never merged automatically."""
    step = warehouse.step(context)
    inputs = StepInputs(
        "duplicate_candidates",
        {"config": config_token(step.config), "model": "splink-1"},
        lambda con: {**data_tokens(con), "contacts": relation_token(con, "contacts")},
    )
    scored = None
    with step.connect() as con:
        skipped = unchanged(con, inputs)
        features = None if skipped else read_features(con, step.config)
    if skipped:
        context.log.info("duplicate candidates unchanged: %s", skipped)
    else:
        # With the warehouse connection closed: splink's DuckDB gets the memory a big warehouse's cache held.
        scored = score(features, step.config, context.log)
        del features
        if scored.not_scored:
            context.log.info("duplicate candidates: none scored, %s", scored.not_scored)
    with step.connect() as con:
        if scored is not None:
            with step.publishing("duplicate_candidates"):
                store_candidates(con, scored)
            record(con, inputs)
        version = step.version("duplicate_candidates")
        (total,) = con.execute("select count(*) from staging.duplicate_candidates").fetchone()
        (problems,) = con.execute(PAIR_PROBLEMS_SQL, {"min": step.config.dedupe.min_probability}).fetchone()
        bands = markdown_table(
            con,
            """select case when match_probability >= 0.99 then '0.99 - 1' when match_probability >= 0.9 then '0.9 - 0.99'
                           when match_probability >= 0.7 then '0.7 - 0.9' else 'below 0.7' end as probability,
                      count(*) as pairs
               from staging.duplicate_candidates group by all order by probability desc""",
        )
        preview = markdown_table(
            con,
            """select contact_id_a, contact_id_b, match_probability, array_to_string(match_reasons, '; ') as match_reasons
               from staging.duplicate_candidates order by match_probability desc, contact_id_a, contact_id_b limit 10""",
        )
        reasons = markdown_table(
            con,
            """select reason, count(*) as pairs from (select unnest(match_reasons) as reason from staging.duplicate_candidates)
               group by reason order by pairs desc, reason limit 15""",
        )
    plan = (
        {
            "contacts_compared": scored.contacts,
            "pairs_compared": scored.pairs_compared,
            "blocking_keys_used": dg.MetadataValue.json(scored.keys_used),
            "blocking_keys_too_broad": dg.MetadataValue.json(scored.keys_dropped),
            "not_scored_because": dg.MetadataValue.text(scored.not_scored or ""),
        }
        if scored
        else {}
    )
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "version": version if version is not None else dg.MetadataValue.null(),
            "preview": dg.MetadataValue.md(preview),
            "by_probability": dg.MetadataValue.md(bands),
            "by_reason": dg.MetadataValue.md(reasons),
            **plan,
            **unchanged_metadata(skipped),
        }
    )
    yield dg.AssetCheckResult(
        check_name=PAIRS_ARE_CONTACTS, passed=problems == 0, metadata={"pairs_with_problems": problems}
    )
