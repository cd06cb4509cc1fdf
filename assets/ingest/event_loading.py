"""Event rows straight into the warehouse: the common case in one SQL statement.

Event files are the big inputs (millions of rows, a few hundred thousand distinct addresses). Staging
them in polars and handing the frame to DuckDB cost about 3.5 s per million rows; here DuckDB reads the
parsed cells in place (Arrow), joins each row to its address's verdict and inserts the rows whose every
cell is plainly fine, in one multi-threaded statement.

"Plainly fine" is a narrow, exact rule, so that the SQL never has to agree with polars on anything
subtle: an address email-validator's rules accept (judged once per distinct address, by the same cache
as every other file); an event name of ASCII characters (bytes = characters, so no look-alike letter
such as the Kelvin sign) that lower-cases to a known event; a timestamp of the shape
`YYYY-MM-DD[T ]HH:MM:SS` (`Z`, or no zone when the configured timezone is UTC), which DuckDB's strptime
reads exactly as polars does; a value of plain decimal digits; text cells whose first and last code
points are printable ASCII (`ord` between 33 and 126), so trimming cannot change them; no tags, and a
machine-open flag of `true` or `false`. Every other row,
and every row the statement did not insert for any reason, goes through `stage_event_file`, which
judges, explains and rejects it as before. tests/test_event_loading.py holds the two paths to the same rows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import duckdb

from assets.ingest.headers import HeaderMapping
from assets.ingest.parsed_file import ParsedFile, cell_column
from assets.validation.contact_rows import StagedFile, distinct_verdicts
from assets.validation.emails import EmailValidatorCache
from assets.validation.event_rows import EventReading, stage_event_file
from pipelines.config import ContactsConfig
from pipelines.vocabulary import EVENTS, sql_list
from pipelines.warehouse.connection import registered
from pipelines.warehouse.tombstones import erasure_salt, has_tombstones

TIMESTAMP_PLAIN = r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
PLAIN_NUMBER = r"[0-9]{1,15}(\.[0-9]{1,15})?"


@dataclass
class LoadedEvents:
    inserted: int  # rows the SQL statement inserted into staging.event_rows
    rest: StagedFile  # the other rows, staged (accepted, rejected, field issues) the careful way


def _cell(mapping: HeaderMapping, name: str) -> str:
    index = mapping.field_to_index.get(name)
    return f"c.{cell_column(index)}" if index is not None else "null::varchar"


def insert_statement(mapping: HeaderMapping, timezone: str, erased_check: bool) -> str:
    """The statement that inserts the plainly fine rows of `_cells` (joined to `_verdicts`) as file $1."""
    email, event, moment = _cell(mapping, "email"), _cell(mapping, "event"), _cell(mapping, "occurred_at")
    # Naive values are in the configured timezone; only UTC is read here (a zone's DST rules are polars').
    zone = "Z?" if timezone == "UTC" else "Z"
    text_ok = " and ".join(
        f"({cell} is null or (ord({cell}) between 33 and 126 and ord(right({cell}, 1)) between 33 and 126))"
        for cell in (
            _cell(mapping, name) for name in ("campaign_id", "list", "url", "message_id", "service_event")
        )
    )
    tags, machine_open = _cell(mapping, "tags"), _cell(mapping, "machine_open")
    value = _cell(mapping, "value")
    erased = (
        "and sha256($2 || email) not in (select email_sha256 from suppressions where reason = 'erased')"
        if erased_check
        else ""
    )
    return f"""
        insert into staging.event_rows (file_id, row_number, email, email_ascii, event, occurred_at, campaign_id, list,
                                        value, url, message_id, machine_open, service_event)
        with usable as (
            select email_raw, email, email_ascii from _verdicts where email is not null {erased}
        ),
        timed as (
            select c.*, v.email, v.email_ascii,
                   try_strptime(replace(replace({moment}, 'T', ' '), 'Z', ''), '%Y-%m-%d %H:%M:%S') as naive
            from _cells c join usable v on {email} = v.email_raw
            where lower({event}) in {sql_list(EVENTS)} and strlen({event}) = length({event})
              and regexp_full_match({moment}, '{TIMESTAMP_PLAIN}{zone}')
              and {text_ok}
              and ({value} is null or regexp_full_match({value}, '[+-]?{PLAIN_NUMBER}'))
              and {tags} is null and ({machine_open} is null or {machine_open} in ('true', 'false'))
        )
        select $1, c.row_number, c.email, c.email_ascii, lower({event}), timezone('UTC', c.naive),
               {_cell(mapping, "campaign_id")}, {_cell(mapping, "list")}, {value}::double, {_cell(mapping, "url")},
               {_cell(mapping, "message_id")}, {machine_open}::boolean, {_cell(mapping, "service_event")}
        from timed c
        where c.naive is not null
    """


def load_event_rows(
    con: duckdb.DuckDBPyConnection,
    parsed: ParsedFile,
    mapping: HeaderMapping,
    file_id: int,
    config: ContactsConfig,
    cache: EmailValidatorCache,
    reading: EventReading | None = None,
) -> LoadedEvents:
    """Insert the plainly fine rows of an event file in SQL; stage the rest with `stage_event_file`.
    Runs inside the file's transaction: the caller inserts the rest and the ledger row. A tool's log with
    its own event names or time format (`reading`) is staged the careful way, whole."""
    reading = reading or EventReading()
    if not reading.plain:
        return LoadedEvents(0, stage_event_file(parsed, mapping, file_id, config, cache, reading))
    verdicts = distinct_verdicts(parsed.column(mapping.field_to_index["email"]), cache).select(
        "email_raw", "email", "email_ascii"
    )
    tombstones = has_tombstones(con)
    parameters = [file_id] + ([erasure_salt(con)] if tombstones else [])
    with registered(con, "_cells", parsed.cells), registered(con, "_verdicts", verdicts):
        inserted = con.execute(insert_statement(mapping, config.timezone, tombstones), parameters).fetchone()[
            0
        ]
        # The rest is exactly what the statement did not insert, whatever the reason.
        rest_numbers = con.sql(
            """select row_number from _cells
               where row_number not in (select row_number from staging.event_rows where file_id = $id)""",
            params={"id": file_id},
        ).pl()
    rest_cells = parsed.cells.join(rest_numbers, on="row_number", how="semi", maintain_order="left")
    rest = dataclasses.replace(parsed, cells=rest_cells)
    return LoadedEvents(inserted, stage_event_file(rest, mapping, file_id, config, cache, reading))
