"""The one SQL renderer: every placeholder kind, an unknown one refused, and every model renders with the
values its caller gives it (nothing left in braces)."""

from __future__ import annotations

import pytest

from pipelines.settings import PROJECT_ROOT
from pipelines.vocabulary import CLOSED_STATUSES
from pipelines.warehouse.render import KEEP_SCOPE, RenderError, apply_scope, render

RULES = {
    "soft_bounce_limit": 3,
    "soft_bounce_window_days": 30,
    "engaged_window_days": 30,
    "inactive_after_days": 180,
}


def test_each_kind_of_placeholder():
    script = "select {limit}, a{each_field:, @f} from t where {scope:email} and s in {closed_statuses}"
    assert render(script, {"limit": 3}, fields=["vip", "city"], scope="scope_t") == (
        'select 3, a, "vip", "city" from t where email in (select email from scope_t) '
        f"and s in ('{CLOSED_STATUSES[0]}', '{CLOSED_STATUSES[1]}', '{CLOSED_STATUSES[2]}')"
    )
    assert render("where {scope:e.email}", scope=None) == "where true"
    kept = render("where {scope:email} and {n}", {"n": 1}, scope=KEEP_SCOPE)
    assert kept == "where {scope:email} and 1" and apply_scope(kept, None) == "where true and 1"


def test_a_placeholder_without_a_value_is_refused():
    with pytest.raises(RenderError, match=r"no value for the placeholder \{soft_bounce_limt\}"):
        render("select {soft_bounce_limt}")


SQL_FILES = sorted(
    p.relative_to(PROJECT_ROOT / "sql").as_posix()
    for folder in ("models", "checks")
    for p in (PROJECT_ROOT / "sql" / folder).glob("*.sql")
)


def test_the_checks_are_beside_the_models():
    assert {"checks/nothing_lost_per_file.sql", "checks/status_matches_suppression.sql"} <= set(SQL_FILES)


@pytest.mark.parametrize("model", SQL_FILES)
def test_every_model_and_check_renders_completely(model):
    rendered = render((PROJECT_ROOT / "sql" / model).read_text(encoding="utf-8"), RULES, fields=["vip"])
    assert "{" not in "\n".join(line.split("--")[0] for line in rendered.splitlines())
