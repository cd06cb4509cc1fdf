"""The one renderer of the SQL models' placeholders (sql/models/*.sql). Values bound at run time stay
DuckDB `$parameters`; what changes the text of a statement is written in braces:

- `{name}`: a setting from contacts.yaml (an integer) or a word list of the vocabulary, e.g.
  `{closed_statuses}` -> `('unsubscribed', 'bounced', 'complained')`;
- `{each_field:text}`: the text once per custom field, `@f` standing for the field's quoted column;
- `{scope:column}`: `column in (select email from <scope table>)` when only some addresses are recomputed,
  `true` when all are (pipelines/warehouse/scope.py decides which).

A placeholder left unrendered is an error, so a typo in a model never runs as SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipelines import vocabulary
from pipelines.vocabulary import sql_list

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
NAMED = re.compile(r"\{([a-z_]+)\}")
EACH_FIELD = re.compile(r"\{each_field:([^{}]*)\}")
SCOPE = re.compile(r"\{scope:([\w.]+)\}")
# `{statuses}` -> ('subscribed', ...), for every word list of the vocabulary
VOCABULARY = {
    name.lower(): sql_list(getattr(vocabulary, name))
    for name in (
        "STATUSES",
        "CLOSED_STATUSES",
        "SUPPRESSION_REASONS",
        "EVENTS",
        "STATUS_EVENTS",
        "SIGNUP_EVENTS",
        "INTERACTION_EVENTS",
        "ENGAGEMENT_EVENTS",
        "REACH_EVENTS",
    )
}
KEEP_SCOPE = object()  # render now, narrow to a scope later (apply_scope)


def load_sql(relative: str) -> str:
    """The text of `sql/<relative>`, placeholders and all."""
    return (SQL_DIR / relative).read_text(encoding="utf-8")


class RenderError(ValueError):
    """A model with a placeholder the renderer was given no value for."""


def render(
    script: str,
    values: Mapping[str, int] | None = None,
    fields: Iterable[str] = (),
    scope: str | None | object = None,
) -> str:
    """`script` with every placeholder replaced. `scope`: the scope table, None for every address, or
    KEEP_SCOPE to leave `{scope:...}` for apply_scope."""
    names = {**VOCABULARY, **{key: str(int(value)) for key, value in (values or {}).items()}}
    columns = [f'"{name}"' for name in fields]
    script = EACH_FIELD.sub(lambda m: "".join(m.group(1).replace("@f", column) for column in columns), script)

    def named(match: re.Match) -> str:
        if match.group(1) not in names:
            raise RenderError(f"no value for the placeholder {match.group(0)}")
        return names[match.group(1)]

    script = NAMED.sub(named, script)
    if scope is not KEEP_SCOPE:
        script = apply_scope(script, scope)
    return script


def apply_scope(script: str, scope_table: str | None) -> str:
    """`{scope:column}` narrowed to the addresses in `scope_table`, or `true` for every address."""
    return SCOPE.sub(
        lambda m: f"{m.group(1)} in (select email from {scope_table})" if scope_table else "true", script
    )
