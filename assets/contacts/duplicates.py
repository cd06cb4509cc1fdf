"""Probable duplicates (DESIGN 5.2): pairs of current contacts that are probably one person under two
addresses, scored by splink's Fellegi-Sunter model, never merged here (a reviewed merge file does that).

- *Features*: names and the custom fields of `dedupe.fields` (every text and date field by default),
  trimmed, lower-cased and stripped of accents; the address split into its local part and domain, and
  folded as providers fold it (`+tags` everywhere, dots at Gmail), so that one mailbox under two
  spellings is seen.
- *Comparisons*: each name by Jaro-Winkler levels, and swapped first and last names; the address by
  folded, local part, one edit, a few edits; a date field by exact, one typed digit, a month, a year; a
  text field by exact (term-frequency adjusted: two Londoners prove less than two people from Tring)
  and two edits.
- *Blocking*: splink compares only pairs that share a blocking key. Each candidate key's pair count is
  computed first (a group-by, no pair built); keys are taken in order of preference while all of them
  together make at most `PAIR_BUDGET_PER_CONTACT` pairs per contact, and a key too broad for what is left
  (a common first and last name in a big audience) is narrowed by the domain, or dropped. The keys kept
  and dropped are reported.
- *Parameters*: estimated from the audience itself, never tuned per data set: u by random sampling (a
  fixed seed, so a rerun gives the same pairs), the prior from deterministic rules, m by expectation
  maximisation on two blocks (names, address), each estimating the comparisons it does not block on.

splink runs in an in-memory DuckDB of its own: its intermediate tables hold addresses and must not
outlive the step; only the scored pairs come back to the warehouse.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import duckdb_config, registered

# Blocked pairs per contact that all keys together may produce, with a floor for small audiences: what bounds
# the step's time (splink scores about 120,000 pairs a second on 2 cores), whatever the names in the audience.
PAIR_BUDGET_PER_CONTACT = 1
PAIR_BUDGET_FLOOR = 200_000
U_SAMPLE_PAIRS = 300_000
SEED = 20260101
# Below this many contacts the model's parameters cannot be estimated from the audience (u from a few hundred
# random pairs, EM on a handful of blocked ones): no candidates then, and the step says why.
MIN_CONTACTS = 100
FOLDING_PROVIDERS = ("gmail.com", "googlemail.com")  # dots in the local part are ignored there
SPLINK_LOGGERS = ("splink",)


@dataclass(frozen=True)
class BlockingKey:
    name: str  # as reported
    sql: str  # a splink blocking rule (l. and r. columns)
    columns: tuple[str, ...]  # for counting: equal values of these columns make a pair
    swapped: bool = False  # first and last name swapped


@dataclass
class DuplicateScore:
    pairs: pa.Table  # contact_id_a, contact_id_b, match_probability, match_reasons
    contacts: int
    keys_used: dict[str, int]  # key -> blocked pairs
    keys_dropped: dict[str, int]
    pairs_compared: int
    not_scored: str | None = None  # why no model was fitted


def _text(column: str) -> str:
    return f"nullif(lower(strip_accents(trim({column}::varchar))), '')"


def features_sql(config: ContactsConfig) -> str:
    """The columns splink compares, one row per current contact (unique_id = contact_id)."""
    fields = [
        f"{_text(name)} as {name}" if config.fields[name].type != "date" else f"{name}"
        for name in config.dedupe_fields
    ]
    folded_local = "regexp_replace(split_part(email, '@', 1), '\\+.*$', '')"
    return f"""
        select
            contact_id as unique_id,
            {_text("first_name")} as first_name,
            {_text("last_name")} as last_name,
            email,
            split_part(email, '@', 1) as email_local,
            email_domain,
            case when email_domain in {FOLDING_PROVIDERS}
                 then replace({folded_local}, '.', '') || '@gmail.com'
                 else {folded_local} || '@' || email_domain end as email_folded
            {"".join(", " + field for field in fields)}
        from staging.contacts
    """


def candidate_keys(config: ContactsConfig) -> list[BlockingKey]:
    """Blocking keys in order of preference, before the budget."""

    def on(*columns: str) -> BlockingKey:
        return BlockingKey(
            " + ".join(columns), " and ".join(f"l.{c} = r.{c}" for c in columns), tuple(columns)
        )

    keys = [
        on("email_folded"),
        on("email_local"),
        on("first_name", "last_name"),
        BlockingKey(
            "first_name + last_name swapped",
            "l.first_name = r.last_name and l.last_name = r.first_name",
            ("first_name", "last_name"),
            swapped=True,
        ),
    ]
    for field in config.dedupe_fields:
        keys += [on(field), on("first_name", field), on("last_name", field)]
    keys += [on("first_name", "email_domain"), on("last_name", "email_domain"), on("email_domain")]
    return keys


def blocked_pairs(con: duckdb.DuckDBPyConnection, key: BlockingKey) -> int:
    """Pairs the key makes over `features`, counted without building them."""
    present = " and ".join(f"{c} is not null" for c in key.columns)
    if key.swapped:
        # a pair per (first, last) row and (last, first) row; first = last rows would pair with themselves
        sql = f"""with names as (select first_name, last_name, count(*) as n from features where {present}
                                 and first_name <> last_name group by all)
                  select coalesce(sum(a.n * b.n), 0) // 2 from names a
                  join names b on a.first_name = b.last_name and a.last_name = b.first_name"""
    else:
        group = ", ".join(key.columns)
        sql = f"""select coalesce(sum(n * (n - 1) // 2), 0) from
                  (select count(*) as n from features where {present} group by {group})"""
    return int(con.execute(sql).fetchall()[0][0])


def narrowed(key: BlockingKey) -> BlockingKey | None:
    if "email_domain" in key.columns or key.columns == ("email_folded",):
        return None
    return BlockingKey(
        f"{key.name} + email_domain",
        f"{key.sql} and l.email_domain = r.email_domain",
        (*key.columns, "email_domain"),
        key.swapped,
    )


def blocking_plan(con: duckdb.DuckDBPyConnection, keys: list[BlockingKey], contacts: int):
    """The keys, in order of preference, while their pairs fit the budget (a key too broad for what is left is
    narrowed by the domain, or dropped), and the keys dropped with their pair counts."""
    left = max(PAIR_BUDGET_FLOOR, PAIR_BUDGET_PER_CONTACT * contacts)
    used: dict[str, tuple[BlockingKey, int]] = {}
    dropped: dict[str, int] = {}
    for key in keys:
        candidate = key
        while candidate is not None:
            pairs = blocked_pairs(con, candidate)
            if pairs <= left:
                if candidate.name not in used:
                    used[candidate.name] = (candidate, pairs)
                    left -= pairs
                break
            dropped[candidate.name] = pairs
            candidate = narrowed(candidate)
    return used, dropped


def training_blocks(used: dict[str, tuple[BlockingKey, int]], config: ContactsConfig) -> list[BlockingKey]:
    """The blocks expectation maximisation learns the m parameters on; each leaves out the comparisons on its
    own columns. The address block learns the names and fields; a date field's block learns the names and
    the address. The names block is used only where no date field is compared: addresses are often made of
    the names (anna.adler12@...), so among people who share a name the address agrees by construction, and
    EM would take strangers with one name for one person."""
    wanted = ["email_local"] + [name for name in config.dedupe_fields if config.fields[name].type == "date"]
    if len(wanted) == 1:
        wanted.append("first_name + last_name")
    blocks = []
    for name in wanted:
        for candidate in (name, f"{name} + email_domain"):
            if candidate in used and used[candidate][1] > 0:
                blocks.append(used[candidate][0])
                break
    return blocks


def comparisons(config: ContactsConfig) -> list:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    address = cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email_folded").configure(label_for_charts="one mailbox (provider folding)"),
            cll.And(
                cll.ExactMatchLevel("email_local"), cll.DamerauLevenshteinLevel("email_domain", 2)
            ).configure(label_for_charts="domain typo"),
            cll.ExactMatchLevel("email_local").configure(label_for_charts="same local part, other domain"),
            cll.And(
                cll.DamerauLevenshteinLevel("email_local", 1), cll.ExactMatchLevel("email_domain")
            ).configure(label_for_charts="address one edit apart"),
            cll.And(
                cll.DamerauLevenshteinLevel("email_local", 2), cll.DamerauLevenshteinLevel("email_domain", 2)
            ).configure(label_for_charts="address a few edits apart"),
            cll.JaroWinklerLevel("email_local", 0.88).configure(label_for_charts="similar local part"),
            cll.ElseLevel(),
        ],
    )
    # One comparison for both names, so that swapped names are a level of it rather than two disagreements,
    # and a typo in one name next to the other name exact is a level of its own.
    first, last = "first_name", "last_name"
    names = [
        cl.CustomComparison(
            output_column_name="name",
            comparison_levels=[
                cll.And(cll.NullLevel(first), cll.NullLevel(last)),
                cll.And(cll.ExactMatchLevel(first), cll.ExactMatchLevel(last)).configure(
                    label_for_charts="same first and last name"
                ),
                cll.ColumnsReversedLevel(first, last).configure(
                    label_for_charts="first and last name swapped"
                ),
                cll.And(cll.JaroWinklerLevel(first, 0.92), cll.JaroWinklerLevel(last, 0.92)).configure(
                    label_for_charts="both names nearly the same"
                ),
                cll.And(cll.ExactMatchLevel(last), cll.JaroWinklerLevel(first, 0.7)).configure(
                    label_for_charts="same last name, similar first name"
                ),
                cll.And(cll.ExactMatchLevel(first), cll.JaroWinklerLevel(last, 0.7)).configure(
                    label_for_charts="same first name, similar last name"
                ),
                cll.ExactMatchLevel(last).configure(label_for_charts="same last name"),
                cll.ExactMatchLevel(first).configure(label_for_charts="same first name"),
                cll.And(cll.JaroWinklerLevel(first, 0.7), cll.JaroWinklerLevel(last, 0.7)).configure(
                    label_for_charts="both names similar"
                ),
                cll.ElseLevel(),
            ],
        )
    ]
    fields = []
    for name in config.dedupe_fields:
        if config.fields[name].type == "date":
            fields.append(cl.DateOfBirthComparison(name, input_is_string=False))
        else:
            fields.append(
                cl.CustomComparison(
                    output_column_name=name,
                    comparison_levels=[
                        cll.NullLevel(name),
                        cll.ExactMatchLevel(name).configure(
                            tf_adjustment_column=name, label_for_charts=f"same {name}"
                        ),
                        cll.DamerauLevenshteinLevel(name, 2).configure(
                            label_for_charts=f"{name} two edits apart"
                        ),
                        cll.ElseLevel(),
                    ],
                )
            )
    return [*names, address, *fields]


def _quiet_splink() -> None:
    for name in SPLINK_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def score(features: pa.Table, config: ContactsConfig, log: logging.Logger | None = None) -> DuplicateScore:
    """Score the pairs of contacts the blocking keys make; keep those at `dedupe.min_probability` or above."""
    contacts = features.num_rows
    if contacts < MIN_CONTACTS:
        reason = (
            f"{contacts} contact(s): a model needs at least {MIN_CONTACTS} to estimate its parameters from"
        )
        return DuplicateScore(_empty_pairs(), contacts, {}, {}, 0, reason)
    from splink import (
        DuckDBAPI,
        Linker,
        SettingsCreator,
        block_on,
    )  # 0.2 s: only when there is a model to fit

    _quiet_splink()
    con = duckdb.connect(config=duckdb_config())
    try:
        con.register("features_arrow", features)
        con.execute("create table features as select * from features_arrow")
        con.unregister("features_arrow")
        used, dropped = blocking_plan(con, candidate_keys(config), contacts)
        if not any(pairs for _, pairs in used.values()):
            # no two contacts share any key: nothing to score, and no model to train on
            return DuplicateScore(
                _empty_pairs(),
                contacts,
                {k: n for k, (_, n) in used.items()},
                dropped,
                0,
                "no two contacts share a key",
            )
        database = DuckDBAPI(connection=con)
        table = database.register("features", dataset_display_name="contacts")
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=comparisons(config),
            blocking_rules_to_generate_predictions=[key.sql for key, _ in used.values()],
            retain_intermediate_calculation_columns=True,
            retain_matching_columns=True,  # the gamma columns the reasons read
        )
        linker = Linker(table, settings, log_level=None)
        # The prior from pairs that are one person beyond doubt: one mailbox, or one local part and first name,
        # or the same names and the same date (a birthday) where a date field is compared.
        deterministic = [block_on("email_folded"), block_on("email_local", "first_name")] + [
            block_on("first_name", "last_name", name)
            for name in config.dedupe_fields
            if config.fields[name].type == "date"
        ]
        timer = _Phases(log)
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
        prior = _usable_prior(linker, contacts)
        timer.done("prior")
        linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=SEED)
        timer.done("u by sampling")
        for block in training_blocks(used, config):
            linker.training.estimate_parameters_using_expectation_maximisation(
                block.sql, fix_probability_two_random_records_match=False
            )
            timer.done(f"EM on {block.name}")
        # EM re-estimates the prior too; in an audience without duplicates it can reach 0, which leaves no
        # pair a probability: the deterministic estimate stands then.
        _usable_prior(linker, contacts, fallback=prior)
        _smooth_levels(linker)
        predictions = linker.inference.predict(threshold_match_probability=config.dedupe.min_probability)
        pairs = _scored_pairs(con, predictions.physical_name, linker)
        timer.done("scoring")
        compared = sum(pairs for _, pairs in used.values())
        if log:
            log.info(
                "duplicates: %d contact(s), %d pair(s) compared on %d key(s), %d candidate(s)",
                contacts,
                compared,
                len(used),
                pairs.num_rows,
            )
        return DuplicateScore(pairs, contacts, {k: n for k, (_, n) in used.items()}, dropped, compared)
    finally:
        con.close()


class _Phases:
    """Logs how long each phase of the model took (debug level: the step's own log line has the totals)."""

    def __init__(self, log: logging.Logger | None):
        self.log, self.started = log, time.monotonic()

    def done(self, phase: str) -> None:
        now = time.monotonic()
        if self.log:
            self.log.debug("duplicates: %s %.2f s", phase, now - self.started)
        self.started = now


def _usable_prior(linker, contacts: int, fallback: float | None = None) -> float:
    """The model's probability that two random contacts are one person, kept strictly between 0 and 1: at
    `fallback` when given and the estimate is not usable, else at one pair in the whole audience (at most even
    odds: in an audience of two, that pair)."""
    settings = linker._settings_obj
    prior = settings._probability_two_random_records_match
    if prior is None or not 0 < prior < 1:
        prior = fallback if fallback is not None else min(0.5, 2 / (contacts * (contacts - 1)))
        settings._probability_two_random_records_match = prior
    return prior


def _smooth_levels(linker) -> None:
    """Keep every level's m and u strictly between 0 and 1. A level no sampled pair reached (any level in a
    small audience, a rare one in a big one) gets u of half a pair in the sample, and a level EM saw no match
    in gets m of a millionth: a zero would make its weight infinite, which is no evidence (and no SQL)."""
    floor_u = 0.5 / U_SAMPLE_PAIRS
    for comparison in linker._settings_obj.comparisons:
        for level in comparison.comparison_levels:
            if level.is_null_level:
                continue
            if level.u_probability is None or level.u_probability <= 0:
                level.u_probability = floor_u
            elif level.u_probability >= 1:
                level.u_probability = 1 - floor_u
            if level.m_probability is not None and level.m_probability <= 0:
                level.m_probability = 1e-6
            elif level.m_probability is not None and level.m_probability >= 1:
                level.m_probability = 1 - 1e-6


def _empty_pairs() -> pa.Table:
    return pa.table(
        {
            "contact_id_a": pa.array([], pa.int64()),
            "contact_id_b": pa.array([], pa.int64()),
            "match_probability": pa.array([], pa.float64()),
            "match_reasons": pa.array([], pa.list_(pa.string())),
        }
    )


def _scored_pairs(con: duckdb.DuckDBPyConnection, predictions: str, linker) -> pa.Table:
    """contact_id_a < contact_id_b, the probability (4 decimals, so that float noise never makes a new
    version), and the reasons: the label of each comparison level that counted for a match (match weight
    above 0), in the order of the comparisons."""
    reasons = []
    for comparison in linker._settings_obj.comparisons:
        column = comparison.output_column_name
        labels = [
            f"when gamma_{column} = {level.comparison_vector_value} then '{level.label_for_charts.replace(chr(39), chr(39) * 2)}'"
            for level in comparison.comparison_levels
            if not level.is_null_level and level.comparison_vector_value > 0
        ]
        if labels:
            reasons.append(f"case when mw_{column} > 0 then (case {' '.join(labels)} end) end")
    listed = f"list_filter([{', '.join(reasons)}], lambda x: x is not null)" if reasons else "[]::varchar[]"
    return con.sql(
        f"""select least(unique_id_l, unique_id_r)::bigint as contact_id_a,
                   greatest(unique_id_l, unique_id_r)::bigint as contact_id_b,
                   round(match_probability, 4) as match_probability,
                   {listed} as match_reasons
            from {predictions}
            order by contact_id_a, contact_id_b"""
    ).to_arrow_table()


def store_candidates(con: duckdb.DuckDBPyConnection, scored: DuplicateScore) -> None:
    """Replace the working table with the scored pairs and their addresses. Call inside a transaction."""
    con.execute("delete from staging.duplicate_candidates")
    with registered(con, "_pairs", scored.pairs):
        con.execute(
            """insert into staging.duplicate_candidates
               select p.contact_id_a, p.contact_id_b, a.email, b.email, p.match_probability, p.match_reasons
               from _pairs p
               join staging.contacts a on a.contact_id = p.contact_id_a
               join staging.contacts b on b.contact_id = p.contact_id_b"""
        )


def read_features(con: duckdb.DuckDBPyConnection, config: ContactsConfig) -> pa.Table:
    return con.sql(features_sql(config)).to_arrow_table()
