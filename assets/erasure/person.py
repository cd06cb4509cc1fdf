"""Access and portability: everything the warehouse holds about one address, as JSON."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb

from assets.validation.emails import EmailValidatorCache, prepare_email
from pipelines.warehouse.tombstones import stored_erasure_salt


def _rows(con: duckdb.DuckDBPyConnection, sql: str, parameters: list) -> list[dict[str, Any]]:
    relation = con.execute(sql, parameters)
    names = [column[0] for column in relation.description]
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def identity_key(raw: str) -> str:
    """The address as the warehouse stores it, or the input lower-cased when it is not a valid address."""
    verdict = EmailValidatorCache().verdict(prepare_email(raw))
    return verdict.email or prepare_email(raw).lower()


def person_record(con: duckdb.DuckDBPyConnection, raw_email: str) -> dict[str, Any]:
    email = identity_key(raw_email)
    salt = stored_erasure_salt(con)
    if salt is not None:
        erased = _rows(
            con,
            "select erased_at from erasure_log where email_sha256 = sha256(? || ?) order by erased_at",
            [salt, email],
        )
        if erased:
            return {
                "email": email,
                "erased": True,
                "erased_at": [row["erased_at"] for row in erased],
                "note": "nothing else is held about this address",
            }
    contact = _rows(con, "select * from contacts where email = ?", [email])
    staged_from = """select f.file_id, f.path, f.kind, f.loaded_at, f.mode, f.source, f.lists, list(r.row_number order by r.row_number) as rows
                     from {table} r join import_files f using (file_id) where r.email = ? group by all order by f.file_id"""
    return {
        "email": email,
        "erased": False,
        "contact": contact[0] if contact else None,
        "status_history": _rows(
            con,
            "select status, valid_from, valid_to, reason, source, file_id, row_number from status_history where email = ? order by valid_from",
            [email],
        ),
        "consent": (
            {key: contact[0][key] for key in ("consent_source", "consent_at", "consent_method")}
            if contact
            else None
        ),
        "suppressions": _rows(con, "select reason, since from suppressions where email = ?", [email]),
        # the person's other addresses: merged into this contact, or the contact this address was merged into
        "aliases": _rows(
            con,
            """select alias_email, kept_email, file_id, row_number, merged_at from staging.contact_aliases
               where ? in (alias_email, kept_email) order by merged_at, alias_email""",
            [email],
        ),
        "lists": _rows(
            con, "select list_id, added_at from list_members where email = ? order by list_id", [email]
        ),
        "segments": [
            row["segment_id"]
            for row in _rows(
                con, "select segment_id from segment_members where email = ? order by 1", [email]
            )
        ],
        "engagement": next(
            iter(
                _rows(
                    con,
                    "select * exclude (contact_id, email) from contact_engagement where email = ?",
                    [email],
                )
            ),
            None,
        ),
        "events": _rows(
            con,
            "select event, occurred_at, campaign_id, list, value, url from events where email = ? order by occurred_at",
            [email],
        ),
        "import_files": _rows(con, staged_from.format(table="staging.contact_rows"), [email])
        + _rows(con, staged_from.format(table="staging.event_rows"), [email]),
        "field_issues": _rows(
            con,
            """select i.file_id, i.row_number, i.field, i.raw_value, i.reason from field_issues i
               join (select file_id, row_number from staging.contact_rows where email = ?
                     union all select file_id, row_number from staging.event_rows where email = ?) r using (file_id, row_number)
               order by i.file_id, i.row_number""",
            [email, email],
        ),
        "rejected_rows": _rows(
            con,
            "select file_id, row_number, reason, detail, raw from rejected_rows where contains(lower(raw), ?) order by file_id, row_number",
            [email],
        ),
    }


def to_json(record: dict[str, Any]) -> str:
    def default(value: Any) -> str:
        if isinstance(value, (dt.datetime, dt.date)):
            return value.isoformat()
        return str(value)

    return json.dumps(record, indent=2, ensure_ascii=False, default=default)
