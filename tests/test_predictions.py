"""contact_predictions and prediction_backtest: features by hand, a back-test on history where churn follows a
known rule, the BG/NBD and Gamma-Gamma fits on a simulated population, too-short history, and the formulas."""

from __future__ import annotations

import datetime as dt
import math
import random

import polars as pl
import pytest

from assets.metrics.predictions import auc, calibration, fit_churn, fit_value
from tests.conftest import THROUGH_METRICS

PREDICTIONS = (*THROUGH_METRICS, "contact_predictions", "prediction_backtest")

# As of 2026-06-30 in Europe/Berlin: the day ends at 2026-06-30 22:00 UTC.
EVENTS = """email,event,occurred_at,value
a@example.com,open,2026-06-20T22:00:00Z,
a@example.com,open,2026-03-01T10:00:00Z,
a@example.com,click,2026-06-25T22:00:00Z,
a@example.com,open,2026-06-30T23:00:00Z,
a@example.com,purchase,2026-04-01T10:00:00Z,10
a@example.com,purchase,2026-04-01T12:00:00Z,5
a@example.com,purchase,2026-05-11T10:00:00Z,30
a@example.com,purchase,2026-06-10T10:00:00Z,20
b@example.com,click,2026-03-31T22:00:00Z,
b@example.com,purchase,2026-06-01T10:00:00Z,7.5
c@example.com,unsubscribe,2026-06-01T00:00:00Z,
"""


@pytest.fixture(scope="module")
def by_hand(tmp_path_factory):
    from tests.conftest import make_workspace

    workspace = make_workspace(tmp_path_factory.mktemp("predictions"))
    workspace.drop(
        "contacts.csv",
        "email,created_at\na@example.com,2026-03-30T22:00:00Z\nb@example.com,2026-06-20T22:00:00Z\n"
        "c@example.com,2026-02-01T00:00:00Z\nd@example.com,2026-07-10T00:00:00Z\n",
    )
    workspace.drop("events.csv", EVENTS, folder="events")
    result = workspace.run(as_of="2026-06-30", only=PREDICTIONS)
    return workspace, result


def test_features_by_hand(by_hand):
    workspace, _ = by_hand
    rows = workspace.query(
        """select email, as_of_date, recency_days, frequency, tenure_days, opens_90d, clicks_90d, purchases,
                  historical_value, repeat_purchases, purchase_span_days, purchase_age_days, mean_repeat_value
           from contact_predictions order by email"""
    )
    as_of = dt.date(2026, 6, 30)
    # a: the open at 23:00 UTC is July 1st in Berlin and does not count; the open of March 1st is 121 days back,
    # outside the 90 days. Last click 5 days back; created 92 days back. Purchases on 3 days (90, 50 and 20
    # days back; two on April 1st are one day worth 15): x = 2, t_x = 70, T = 90, mean of the repeat days 25.
    # b: a click before its creation counts as it happened (last engaged 91 days back, outside the 90 days).
    # c: nothing but an unsubscribe; recency from its creation (2026-02-01 00:00 UTC to 2026-06-30 22:00 UTC).
    # d: created after the as-of day, not a contact yet.
    c_days = (dt.datetime(2026, 6, 30, 22) - dt.datetime(2026, 2, 1)).total_seconds() / 86400
    assert rows == [
        ("a@example.com", as_of, 5.0, 3, 92.0, 1, 1, 4, 65.0, 2, 70, 90, 25.0),
        ("b@example.com", as_of, 91.0, 1, 10.0, 0, 0, 1, 7.5, 0, 0, 29, None),
        ("c@example.com", as_of, round(c_days, 2), 0, round(c_days, 2), 0, 0, 0, 0.0, 0, 0, 0, None),
    ]


def test_labels_by_hand(by_hand):
    """The training rows as of 2026-04-01 (Berlin), labels over the 90 days after it: a had opens and clicks
    (kept), c unsubscribed on 2026-06-01 (churned, and no open or click either); b did not exist yet."""
    import duckdb

    from assets.metrics.predictions import feature_frame
    from pipelines.config import load_config

    workspace, _ = by_hand
    con = duckdb.connect(str(workspace.paths.warehouse), read_only=True)
    try:
        frame = feature_frame(con, load_config(workspace.paths.config_path), dt.date(2026, 4, 1), 90)
    finally:
        con.close()
    rows = frame.select(
        "contact_id",
        "closed_at_day",
        "churned_in_window",
        "purchased_in_window",
        "value_in_window",
        "purchases",
    ).rows()
    ids = dict(workspace.query("select email, contact_id from contacts"))
    # a bought on April 1st 10:00 and 12:00 UTC (before the day ends at 22:00 UTC), then 30 + 20 in the window
    assert rows == sorted(
        [
            (ids["a@example.com"], False, False, True, 50.0, 2),
            (ids["c@example.com"], False, True, False, 0.0, 0),
        ]
    )


def test_too_short_history_records_reasons(by_hand):
    workspace, result = by_hand
    # the history starts with the first event, 2026-03-01 10:00 UTC: 121 days before the end of the as-of day
    # (c's creation a month earlier does not count), under two horizons
    reason = "history shorter than two horizons: 121 days of 180"
    assert workspace.query(
        "select model, as_of_date, horizon_days, n, base_rate, auc, brier, calibration, reason from prediction_backtest order by model"
    ) == [
        ("churn_risk", dt.date(2026, 6, 30), 90, None, None, None, None, None, reason),
        ("predicted_value", dt.date(2026, 6, 30), 90, None, None, None, None, None, reason),
    ]
    # the live churn model had 121 days (more than the horizon) but two contacts then: too few to fit
    assert workspace.query("select count(*) from contact_predictions where churn_risk is not null") == [(0,)]
    metadata = result.asset_materializations_for_node("contact_predictions")[0].metadata
    assert metadata["churn_not_computed_because"].value == "too few labelled contacts: 2 of 100"
    assert metadata["value_not_computed_because"].value == "too few repeat buyers: 1 of 20"
    assert metadata["dagster/row_count"].value == 3


def generate_history(seed: int = 7, contacts: int = 1500) -> tuple[str, str]:
    """Contacts created from 2025-06-01 over 200 days, each engaged (opens and clicks) until a lapse day, then
    silent; most lapsed contacts unsubscribe 60-90 days after their last activity (the known rule); some buy."""
    rng = random.Random(seed)
    start = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
    end = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
    contact_lines = ["email,created_at"]
    event_lines = ["email,event,occurred_at,value"]
    for i in range(contacts):
        email = f"person{i}@example.com"
        created = start + dt.timedelta(days=rng.uniform(0, 200))
        contact_lines.append(f"{email},{created:%Y-%m-%dT%H:%M:%SZ}")
        lapse = (
            end + dt.timedelta(days=1)
            if rng.random() < 0.35
            else created + dt.timedelta(days=rng.uniform(0, 400))
        )
        opens, clicks = rng.uniform(0.2, 1.0), rng.uniform(0.1, 0.5)  # per week
        buyer = rng.random() < 0.3
        day = created
        last = None
        while day < min(lapse, end):
            for event, rate in (("open", opens), ("click", clicks)) + ((("purchase", 0.1),) if buyer else ()):
                if rng.random() < rate / 7:
                    value = f"{rng.gammavariate(4, 10):.2f}" if event == "purchase" else ""
                    event_lines.append(f"{email},{event},{day:%Y-%m-%dT%H:%M:%SZ},{value}")
                    last = day
            day += dt.timedelta(days=1)
        if lapse < end and rng.random() < 0.8:
            quits = (last or created) + dt.timedelta(days=rng.uniform(60, 90))
            if quits < end:
                event_lines.append(f"{email},unsubscribe,{quits:%Y-%m-%dT%H:%M:%SZ},")
    return "\n".join(contact_lines) + "\n", "\n".join(event_lines) + "\n"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from tests.conftest import make_workspace

    workspace = make_workspace(tmp_path_factory.mktemp("generated"))
    contacts, events = generate_history()
    workspace.drop("contacts.csv", contacts)
    workspace.drop("events.csv", events, folder="events")
    result = workspace.run(as_of="2026-06-30", only=PREDICTIONS)
    return workspace, result


def test_backtest_on_a_known_churn_rule(generated):
    workspace, result = generated
    churn = workspace.one(
        "select as_of_date, horizon_days, n, base_rate, auc, brier, calibration, reason from prediction_backtest where model = 'churn_risk'"
    )
    as_of_date, horizon, n, base_rate, area, brier, deciles, reason = churn
    assert (as_of_date, horizon, reason) == (dt.date(2026, 6, 30), 90, None)
    assert area > 0.8 and brier < 0.2 and 0 < base_rate < 1 and n > 500
    assert [d["decile"] for d in deciles] == list(range(1, 11)) and sum(d["n"] for d in deciles) == n
    # calibrated: the riskiest tenth churns far more often than the safest
    assert deciles[-1]["observed"] > deciles[0]["observed"] + 0.5
    value = workspace.one(
        "select n, auc, brier, reason from prediction_backtest where model = 'predicted_value'"
    )
    assert value[0] > 0 and value[1] > 0.7 and value[2] is None and value[3] is None
    metadata = result.asset_materializations_for_node("prediction_backtest")[0].metadata
    assert metadata["churn_risk_auc"].value == area
    # the live model scores every contact, lapsed ones higher
    live = dict(
        workspace.query(
            """select recency_days > 60, avg(churn_risk) from contact_predictions
               where churn_risk is not null and churn_risk < 1 group by all"""
        )
    )
    assert live[True] > live[False] + 0.3
    live_metadata = result.asset_materializations_for_node("contact_predictions")[0].metadata
    assert live_metadata["churn_coefficients"].value.count("| log1p(") == 6
    assert live_metadata["value_r"].value > 0 and live_metadata["churn_not_computed_because"].value is None
    assert live_metadata["value_not_computed_because"].value is None
    assert workspace.one("select count(*) from contact_predictions where predicted_value_365d is null") == (
        0,
    )
    assert workspace.one(
        "select count(*) from contact_predictions_at(current_version('contact_predictions'))"
    ) == (1500,)


def test_unchanged_inputs_skip_and_each_day_keeps_its_backtest(generated, tmp_path):
    workspace = generated[0].copy_to(tmp_path / "again")
    steps = ("contact_predictions", "prediction_backtest")
    result = workspace.run(as_of="2026-06-30", only=steps)
    for node in steps:
        assert result.asset_materializations_for_node(node)[0].metadata["unchanged"].value is True
    result = workspace.run(as_of="2026-07-01", only=steps)
    assert (
        result.asset_materializations_for_node("prediction_backtest")[0].metadata["unchanged"].value is False
    )
    assert workspace.query(
        "select as_of_date::varchar, count(*) from prediction_backtest group by all order by 1"
    ) == [("2026-06-30", 2), ("2026-07-01", 2)]
    assert workspace.query("select distinct as_of_date::varchar from contact_predictions") == [
        ("2026-07-01",)
    ]
    # time travel: the predictions as they were as of the first day
    assert workspace.query(
        """select distinct as_of_date::varchar
           from contact_predictions_at(version_as_of('contact_predictions', date '2026-06-30'))"""
    ) == [("2026-06-30",)]


def simulate_bgnbd(rng: random.Random, customers: int, r, alpha, a, b, p, q, v) -> pl.DataFrame:
    """Customers by the BG/NBD story in days (rates lambda ~ Gamma(r, alpha), drop-out p ~ Beta(a, b) after each repeat
    purchase), first purchase 100-400 days before the end, with Gamma-Gamma values per purchase day."""
    rows = []
    for _ in range(customers):
        rate = rng.gammavariate(r, 1 / alpha)
        drop = rng.betavariate(a, b)
        big_t = rng.randint(100, 400)
        nu = rng.gammavariate(q, 1 / v)
        days = {0}
        moment = 0.0
        while True:  # alive at the first purchase; may drop out after each repeat purchase
            moment += rng.expovariate(rate)
            if moment > big_t:
                break
            days.add(math.floor(moment))
            if rng.random() < drop:
                break
        x = len(days) - 1
        values = [rng.gammavariate(p, 1 / nu) for _ in range(x)]
        rows.append((1 + x, x, max(days), big_t, sum(values) / x if x else None))
    frame = pl.DataFrame(
        rows,
        schema=[
            "purchases",
            "repeat_purchases",
            "purchase_span_days",
            "purchase_age_days",
            "mean_repeat_value",
        ],
        orient="row",
    )
    return frame


def test_bgnbd_and_gamma_gamma_recover_parameters():
    rng = random.Random(3)
    truth = {"r": 0.5, "alpha": 20.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "v": 15.0}
    model = fit_value(simulate_bgnbd(rng, 4000, *truth.values()))
    assert model.reason is None, model.reason
    fitted = model.params
    # the mean purchase rate r / alpha, the mean drop-out a / (a + b) and the mean value p v / (q - 1)
    assert fitted["r"] / fitted["alpha"] == pytest.approx(truth["r"] / truth["alpha"], rel=0.2)
    assert fitted["a"] / (fitted["a"] + fitted["b"]) == pytest.approx(0.8 / 3.3, rel=0.25)
    assert fitted["p"] * fitted["v"] / (fitted["q"] - 1) == pytest.approx(6 * 15 / 3, rel=0.15)
    # a faster-buying population is fitted with a higher rate
    faster = fit_value(simulate_bgnbd(rng, 4000, 0.5, 5.0, 0.8, 2.5, 6.0, 4.0, 15.0)).params
    assert faster["r"] / faster["alpha"] > 2 * fitted["r"] / fitted["alpha"]


def test_too_few_repeat_buyers_is_a_reason():
    frame = simulate_bgnbd(random.Random(1), 5, 0.5, 20.0, 0.8, 2.5, 6.0, 4.0, 15.0)
    assert fit_value(frame).reason.startswith("too few repeat buyers")


def test_churn_with_one_outcome_is_a_reason():
    frame = pl.DataFrame(
        {
            "recency_days": [1.0] * 200,
            "frequency": [3] * 200,
            "tenure_days": [100.0] * 200,
            "opens_90d": [1] * 200,
            "clicks_90d": [1] * 200,
            "purchases": [0] * 200,
            "closed_at_day": [False] * 200,
            "churned_in_window": [False] * 200,
        }
    )
    assert fit_churn(frame).reason == "too few of one outcome: 0 churned, 200 kept (at least 10 each)"


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
        ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),
        ([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5),  # ties count half
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),
        ([0.1, 0.2], [1, 1], None),
    ],
)
def test_auc_by_rank(scores, labels, expected):
    import numpy as np

    assert auc(np.array(scores), np.array(labels)) == expected


def test_calibration_deciles():
    import numpy as np

    scores = np.arange(20) / 20
    deciles = calibration(scores, scores > 0.5)
    assert [d["n"] for d in deciles] == [2] * 10
    assert deciles[0] == {"decile": 1, "n": 2, "predicted": 0.025, "observed": 0.0}
    assert deciles[-1]["observed"] == 1.0


def test_history_shorter_than_the_horizon_is_a_reason(by_hand, tmp_path):
    workspace = by_hand[0].copy_to(tmp_path / "longer")
    config = workspace.paths.config_path
    config.write_text(config.read_text() + "rules:\n  prediction_horizon_days: 200\n")
    result = workspace.run(as_of="2026-06-30", only=("contact_predictions", "prediction_backtest"))
    metadata = result.asset_materializations_for_node("contact_predictions")[0].metadata
    assert metadata["churn_not_computed_because"].value == "history shorter than the horizon: 121 days of 200"
    assert workspace.query("select distinct churn_risk from contact_predictions") == [(None,)]
    assert workspace.query("select distinct horizon_days, reason from prediction_backtest") == [
        (200, "history shorter than two horizons: 121 days of 400")
    ]
