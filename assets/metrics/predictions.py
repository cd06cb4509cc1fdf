"""Churn risk and expected purchase value per contact (README "Predictions"), and their back-test.

Features come from sql/models/prediction_features.sql, computed as of a feature day with the labels of the
horizon after it. The churn model is a logistic regression fitted on the features as of (day - horizon) with
the labels of (day - horizon, day], then applied to the features as of the day. The value model is BG/NBD
(Fader, Hardie & Lee 2005) for the number of purchase days and Gamma-Gamma (Fader & Hardie 2013) for the value
per purchase day, fitted by maximum likelihood on the history up to the day. The back-test runs the same code
one horizon earlier and compares with what happened by the as-of day.

numpy and scipy are imported inside the functions: importing them costs process start time every run pays.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import duckdb
import polars as pl

from pipelines.as_of import end_of_day
from pipelines.config import ContactsConfig
from pipelines.warehouse.connection import registered
from pipelines.warehouse.render import load_sql, render

FEATURES_SQL = "models/prediction_features.sql"
# The churn model's inputs, each log1p-transformed then standardised (heavy tails: a few contacts open hundreds).
CHURN_FEATURES = ("recency_days", "frequency", "tenure_days", "opens_90d", "clicks_90d", "purchases")
# On the standardised coefficients (not the intercept): small against any audience worth fitting.
L2_PENALTY = 1.0
MAX_FIT_ROWS = 200_000  # a deterministic sample beyond this: the coefficients no longer move, the time does
MIN_LABELLED = 100  # contacts open on the training day, below which no churn model is fitted
MIN_PER_CLASS = 10  # ... and of each outcome (churned, kept)
MIN_REPEAT_BUYERS = 20  # contacts with a repeat purchase, below which no value model is fitted
VALUE_DAYS = 365


@dataclass
class ChurnModel:
    """A fitted logistic regression, or why there is none (`reason`)."""

    reason: str | None = None
    intercept: float = 0.0
    coefficients: dict[str, float] = field(default_factory=dict)  # per standardised log1p feature
    means: dict[str, float] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    n: int = 0
    base_rate: float | None = None
    iterations: int = 0

    def predict(self, frame: pl.DataFrame):
        import numpy as np

        if self.reason:
            return None
        z = np.full(frame.height, self.intercept)
        for name in CHURN_FEATURES:
            column = np.log1p(frame[name].cast(pl.Float64).to_numpy())
            z += self.coefficients[name] * (column - self.means[name]) / self.scales[name]
        return 1 / (1 + np.exp(-z))


@dataclass
class ValueModel:
    """Fitted BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v) parameters, or why there are none."""

    reason: str | None = None
    params: dict[str, float] = field(default_factory=dict)
    buyers: int = 0
    repeat_buyers: int = 0

    def expected_value(self, frame: pl.DataFrame, days: float):
        """Expected purchase value over the next `days`: E[purchase days] x E[value per purchase day]. A
        contact with no purchase yet is predicted 0 (BG/NBD describes customers after their first purchase)."""
        import numpy as np

        if self.reason:
            return None
        buyers = frame.filter(pl.col("purchases") > 0)  # only buyers need the closed form (2F1 is slow)
        x = buyers["repeat_purchases"].cast(pl.Float64).to_numpy()
        t_x = buyers["purchase_span_days"].cast(pl.Float64).to_numpy()
        big_t = buyers["purchase_age_days"].cast(pl.Float64).to_numpy()
        m = buyers["mean_repeat_value"].cast(pl.Float64).fill_null(0.0).to_numpy()
        with np.errstate(all="ignore"):
            value = bgnbd_expected(self.params, x, t_x, big_t, days) * gamma_gamma_expected(self.params, x, m)
        result = np.zeros(frame.height)
        # NaN where the closed form breaks down (2F1 at its singular points): null, never a number
        result[frame["purchases"].to_numpy() > 0] = np.where(np.isfinite(value) & (value >= 0), value, np.nan)
        return result


def feature_frame(
    con: duckdb.DuckDBPyConnection, config: ContactsConfig, day: dt.date, label_days: int = 0
) -> pl.DataFrame:
    """prediction_features as of the end of `day`, labels over the `label_days` after it; every column but
    the address (the models never need it)."""
    day_end = end_of_day(day, config.timezone)
    label_end = end_of_day(day + dt.timedelta(days=label_days), config.timezone)
    sql = render(load_sql(FEATURES_SQL))
    return con.sql(
        # ordered, so that the sample of a big audience is the same for the same data
        f"select * exclude (email) from ({sql}) order by contact_id",
        params={"day_end": day_end, "label_end": label_end},
    ).pl()


def history_days(con: duckdb.DuckDBPyConnection, config: ContactsConfig, as_of: dt.date) -> int:
    """Days from the first event to the end of the as-of day. Not from the first contact's creation: a file's
    signup dates can go back years before any event, and every label (an open, a click, a purchase) is an
    event."""
    (first,) = con.execute("select min(occurred_at) from staging.event_rows").fetchall()[0]
    if first is None:
        return 0
    return max(0, math.floor((end_of_day(as_of, config.timezone) - first).total_seconds() / 86400))


# ---------------------------------------------------------------------------------------------------------
# Churn: logistic regression by Newton's method (IRLS) with an L2 penalty


def fit_churn(frame: pl.DataFrame) -> ChurnModel:
    """Fit on the contacts open on the training day (`frame` from feature_frame with labels)."""
    import numpy as np

    open_then = frame.filter(~pl.col("closed_at_day"))
    labels = open_then["churned_in_window"].to_numpy().astype(float)
    churned = int(labels.sum())
    if open_then.height < MIN_LABELLED:
        return ChurnModel(
            reason=f"too few labelled contacts: {open_then.height} of {MIN_LABELLED}", n=open_then.height
        )
    if min(churned, open_then.height - churned) < MIN_PER_CLASS:
        return ChurnModel(
            reason=f"too few of one outcome: {churned} churned, {open_then.height - churned} kept "
            f"(at least {MIN_PER_CLASS} each)",
            n=open_then.height,
            base_rate=churned / open_then.height,
        )
    if open_then.height > MAX_FIT_ROWS:
        # Every k-th contact by contact_id: the same sample for the same data.
        open_then = open_then.gather_every(math.ceil(open_then.height / MAX_FIT_ROWS))
        labels = open_then["churned_in_window"].to_numpy().astype(float)
    raw = np.column_stack([np.log1p(open_then[name].cast(pl.Float64).to_numpy()) for name in CHURN_FEATURES])
    means = raw.mean(axis=0)
    scales = raw.std(axis=0)
    scales[scales == 0] = 1.0  # a constant feature gets a zero coefficient from the penalty
    design = np.column_stack([np.ones(len(raw)), (raw - means) / scales])
    penalty = np.full(design.shape[1], L2_PENALTY)
    penalty[0] = 0.0
    beta = np.zeros(design.shape[1])
    base = min(max(labels.mean(), 1e-6), 1 - 1e-6)  # a sample can miss the rarer outcome
    beta[0] = math.log(base / (1 - base))
    iterations = 0
    while iterations < 50:
        iterations += 1
        p = 1 / (1 + np.exp(-(design @ beta)))
        weights = p * (1 - p)
        gradient = design.T @ (labels - p) - penalty * beta
        hessian = (design * weights[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    names = list(CHURN_FEATURES)
    return ChurnModel(
        intercept=float(beta[0]),
        coefficients=dict(zip(names, map(float, beta[1:]), strict=True)),
        means=dict(zip(names, map(float, means), strict=True)),
        scales=dict(zip(names, map(float, scales), strict=True)),
        n=len(labels),
        base_rate=float(labels.mean()),
        iterations=iterations,
    )


# ---------------------------------------------------------------------------------------------------------
# Value: BG/NBD and Gamma-Gamma by maximum likelihood


def bgnbd_log_likelihood(params, x, t_x, big_t, weights=None) -> float:
    """Sum of BG/NBD log-likelihoods (Fader, Hardie & Lee 2005, eq. 6), params (r, alpha, a, b)."""
    import numpy as np
    from scipy.special import betaln, gammaln

    r, alpha, a, b = params
    base = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    alive = -(r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(
            x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf
        )
    ll = base + np.logaddexp(alive, dropped)
    return float(np.sum(ll if weights is None else ll * weights))


def bgnbd_expected(params, x, t_x, big_t, t):
    """E[purchase days in (T, T + t] | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10)."""
    import numpy as np
    from scipy.special import hyp2f1

    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    ratio = (alpha + big_t) / (alpha + big_t + t)
    hyper = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + big_t + t))
    numerator = (a + b + x - 1) / (a - 1) * (1 - ratio ** (r + x) * hyper)
    denominator = 1 + np.where(x > 0, a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x), 0.0)
    return numerator / denominator


def gamma_gamma_log_likelihood(params, x, m) -> float:
    """Sum of Gamma-Gamma log-likelihoods of the mean value m of x > 0 repeat purchase days (Fader & Hardie
    2013), params (p, q, v)."""
    import numpy as np
    from scipy.special import gammaln

    p, q, v = params
    px = p * x
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )
    return float(np.sum(ll))


def gamma_gamma_expected(params, x, m):
    """E[value per purchase day | x, m] = p (v + x m) / (p x + q - 1); the population mean p v / (q - 1) for
    a contact with no repeat purchase (or no value recorded)."""
    import numpy as np

    p, q, v = (params[k] for k in ("p", "q", "v"))
    known = (x > 0) & (m > 0)
    return np.where(known, p * (v + x * m) / (p * x + q - 1), p * v / (q - 1))


def _maximise(log_likelihood, start, *data):
    """Parameters (all positive, fitted on the log scale between 1e-4 and 1e4) that maximise the log-likelihood.
    The bounds keep a parameter the data cannot pin down (b when nobody seems to drop out) from running off."""
    import numpy as np
    from scipy.optimize import minimize

    scale = max(abs(log_likelihood(start, *data)), 1.0)

    def objective(log_params):
        value = log_likelihood(np.exp(log_params), *data)
        return -value / scale if math.isfinite(value) else 1e300

    bounds = [(math.log(1e-4), math.log(1e4))] * len(start)
    result = minimize(objective, np.log(start), method="L-BFGS-B", bounds=bounds)
    return np.exp(result.x), result


def fit_value(frame: pl.DataFrame) -> ValueModel:
    """BG/NBD on every buyer's (x, t_x, T), Gamma-Gamma on the repeat buyers' mean value."""
    import numpy as np

    buyers = frame.filter(pl.col("purchases") > 0)
    repeat = buyers.filter((pl.col("repeat_purchases") > 0) & (pl.col("mean_repeat_value") > 0))
    if repeat.height < MIN_REPEAT_BUYERS:
        return ValueModel(
            reason=f"too few repeat buyers: {repeat.height} of {MIN_REPEAT_BUYERS}",
            buyers=buyers.height,
            repeat_buyers=repeat.height,
        )
    # Days are whole numbers: the likelihood sums over the distinct (x, t_x, T), weighted by their count.
    grouped = buyers.group_by("repeat_purchases", "purchase_span_days", "purchase_age_days").len()
    x, t_x, big_t, weights = (grouped[c].cast(pl.Float64).to_numpy() for c in grouped.columns)
    bgnbd, first = _maximise(
        bgnbd_log_likelihood, np.array([1.0, max(float(big_t.mean()), 1.0), 1.0, 3.0]), x, t_x, big_t, weights
    )
    if repeat.height > MAX_FIT_ROWS:
        repeat = repeat.gather_every(math.ceil(repeat.height / MAX_FIT_ROWS))
    rx = repeat["repeat_purchases"].cast(pl.Float64).to_numpy()
    rm = repeat["mean_repeat_value"].to_numpy()
    gamma, second = _maximise(gamma_gamma_log_likelihood, np.array([1.0, 2.0, float(rm.mean())]), rx, rm)
    params = dict(zip(("r", "alpha", "a", "b", "p", "q", "v"), map(float, (*bgnbd, *gamma)), strict=True))
    model = ValueModel(params=params, buyers=buyers.height, repeat_buyers=repeat.height)
    if not (first.success and second.success):
        model.reason = (
            f"maximum likelihood did not converge: {first.message if not first.success else second.message}"
        )
    elif params["q"] <= 1:
        # E[value] = p v / (q - 1) is infinite for q <= 1 (a few huge orders). E[purchases] holds for any a
        # (eq. 10 is an analytic continuation through a < 1; CDNOW's a is 0.79), but not a = 1 exactly.
        model.reason = f"fitted q = {params['q']:.3g}: the expected value per purchase needs q above 1"
    elif abs(params["a"] - 1) < 1e-6:
        model.reason = "fitted a = 1: the expected number of purchases is undefined there"
    return model


# ---------------------------------------------------------------------------------------------------------
# Evaluation


def auc(scores, labels) -> float | None:
    """Area under the ROC curve by the rank formula (Mann-Whitney U / n1 n0, ties at their mean rank)."""
    import numpy as np
    from scipy.stats import rankdata

    labels = np.asarray(labels, dtype=bool)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def calibration(scores, observed) -> list[dict]:
    """Mean predicted and observed per decile of the predicted score (decile 1 = lowest)."""
    import numpy as np

    n = len(scores)
    if n == 0:
        return []
    order = np.argsort(scores, kind="stable")
    deciles = np.empty(n, dtype=int)
    deciles[order] = np.arange(n) * 10 // n + 1
    observed = np.asarray(observed, dtype=float)
    return [
        {
            "decile": int(d),
            "n": int((deciles == d).sum()),
            "predicted": float(scores[deciles == d].mean()),
            "observed": float(observed[deciles == d].mean()),
        }
        for d in range(1, 11)
        if (deciles == d).any()
    ]


@dataclass
class Backtest:
    model: str
    n: int | None = None
    base_rate: float | None = None
    auc: float | None = None
    brier: float | None = None
    calibration: list[dict] | None = None
    reason: str | None = None


def backtest(con: duckdb.DuckDBPyConnection, config: ContactsConfig, as_of: dt.date) -> list[Backtest]:
    """Both models as the live step would have fitted them one horizon ago, scored against what happened by
    the as-of day."""
    import numpy as np

    horizon = config.rules.prediction_horizon_days
    days = history_days(con, config, as_of)
    if days < 2 * horizon:
        reason = f"history shorter than two horizons: {days} days of {2 * horizon}"
        return [Backtest("churn_risk", reason=reason), Backtest("predicted_value", reason=reason)]
    scored_day = as_of - dt.timedelta(days=horizon)
    training = feature_frame(con, config, scored_day - dt.timedelta(days=horizon), horizon)
    scored = feature_frame(con, config, scored_day, horizon)
    results = []
    churn = fit_churn(training)
    if churn.reason:
        results.append(Backtest("churn_risk", reason=churn.reason))
    else:
        open_then = scored.filter(~pl.col("closed_at_day"))
        risk = churn.predict(open_then)
        outcome = open_then["churned_in_window"].to_numpy()
        results.append(
            Backtest(
                "churn_risk",
                n=open_then.height,
                base_rate=float(outcome.mean()) if open_then.height else None,
                auc=auc(risk, outcome),
                brier=float(np.mean((risk - outcome) ** 2)) if open_then.height else None,
                calibration=calibration(risk, outcome),
                reason=None if open_then.height else "no open contact to score",
            )
        )
    value = fit_value(scored)
    if value.reason:
        results.append(Backtest("predicted_value", reason=value.reason))
    else:
        predicted = value.expected_value(scored, horizon)
        known = np.isfinite(predicted)  # the contacts the closed form could score
        purchased = scored["purchased_in_window"].to_numpy()[known]
        results.append(
            Backtest(
                "predicted_value",
                n=int(known.sum()),
                base_rate=float(purchased.mean()) if known.any() else None,
                auc=auc(predicted[known], purchased),
                calibration=calibration(predicted[known], scored["value_in_window"].to_numpy()[known]),
                reason=None if known.any() else "no contact to score",
            )
        )
    return results


# ---------------------------------------------------------------------------------------------------------
# The steps' work


@dataclass
class Predictions:
    churn: ChurnModel
    value: ValueModel
    rows: int


def compute_predictions(
    con: duckdb.DuckDBPyConnection, config: ContactsConfig, as_of: dt.date
) -> Predictions:
    """Fit both models and rewrite staging.contact_predictions as of `as_of`. Call inside a transaction."""
    import numpy as np

    horizon = config.rules.prediction_horizon_days
    days = history_days(con, config, as_of)
    if days < horizon:
        churn = ChurnModel(reason=f"history shorter than the horizon: {days} days of {horizon}")
    else:
        churn = fit_churn(feature_frame(con, config, as_of - dt.timedelta(days=horizon), horizon))
    day_end = end_of_day(as_of, config.timezone)
    # Kept for the insert below, so the features are computed once; dropped before the step ends.
    con.execute(
        f"create or replace temp table _prediction_features as {render(load_sql(FEATURES_SQL))}",
        {"day_end": day_end, "label_end": day_end},
    )
    current = con.sql("select * exclude (email) from _prediction_features order by contact_id").pl()
    value = fit_value(current)
    risk = churn.predict(current)
    if risk is not None:
        # A closed status stays closed (only a confirm reopens it): such a contact has churned already.
        risk = np.where(current["closed_at_day"].to_numpy(), 1.0, risk)
    predicted = value.expected_value(current, VALUE_DAYS)
    scores = pl.DataFrame(
        {
            "contact_id": current["contact_id"],
            "churn_risk": pl.Series(risk, dtype=pl.Float64) if risk is not None else None,
            "predicted_value_365d": pl.Series(predicted, dtype=pl.Float64).fill_nan(None)
            if predicted is not None
            else None,
        },
        schema={"contact_id": pl.Int64, "churn_risk": pl.Float64, "predicted_value_365d": pl.Float64},
    )
    con.execute("delete from staging.contact_predictions")
    with registered(con, "_prediction_scores", scores):
        con.execute(
            """insert into staging.contact_predictions
                select f.contact_id, f.email, $as_of_date, round(s.churn_risk, 4), round(s.predicted_value_365d, 2),
                       f.historical_value, round(f.recency_days, 2), f.frequency, round(f.tenure_days, 2), f.opens_90d,
                       f.clicks_90d, f.purchases, f.repeat_purchases, f.purchase_span_days, f.purchase_age_days,
                       f.mean_repeat_value
                from _prediction_features f join _prediction_scores s using (contact_id)""",
            {"as_of_date": as_of},
        )
    con.execute("drop table _prediction_features")
    return Predictions(churn, value, current.height)


def store_backtest(con: duckdb.DuckDBPyConnection, config: ContactsConfig, as_of: dt.date) -> list[Backtest]:
    """Replace the as-of day's rows of staging.prediction_backtest. Call inside a transaction."""
    results = backtest(con, config, as_of)
    con.execute("delete from staging.prediction_backtest where as_of_date = ?", [as_of])
    for row in results:
        con.execute(
            "insert into staging.prediction_backtest values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row.model,
                as_of,
                config.rules.prediction_horizon_days,
                row.n,
                _rounded(row.base_rate),
                _rounded(row.auc),
                _rounded(row.brier),
                row.calibration,
                row.reason,
            ],
        )
    return results


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
