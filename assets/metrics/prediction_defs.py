"""Dagster wrappers of the predictions (assets/metrics/predictions.py): contact_predictions and
prediction_backtest, in the `predictions` group."""

import json

import dagster as dg

from assets.metrics.predictions import CHURN_FEATURES, VALUE_DAYS, compute_predictions, store_backtest
from pipelines.metadata import markdown_table, number_or_null, unchanged_metadata
from pipelines.resources import DUCKDB_POOL, ContactsWarehouse
from pipelines.warehouse.fingerprints import (
    StepInputs,
    config_token,
    data_tokens,
    reclaim_pending,
    record,
    relation_token,
    sql_token,
    unchanged,
)

VALUE_PARAMETERS = ("r", "alpha", "a", "b", "p", "q", "v")


def prediction_inputs(step, name: str) -> StepInputs:
    """Every window ends on the as-of day, and the models are refitted from the whole history: a new day or a
    new file recomputes, the same day with no new file nothing."""
    return StepInputs(
        name,
        {
            "config": config_token(step.config),
            "sql": sql_token("models/prediction_features.sql"),
            "as_of": step.as_of.isoformat(),
            "model": "logistic-bgnbd-gg-1",
        },
        lambda con: {
            **data_tokens(con),
            "contacts": relation_token(con, "contacts"),
            name: relation_token(con, name),
        },
    )


def _text(value) -> dg.MetadataValue:
    return dg.MetadataValue.text(value) if value else dg.MetadataValue.null()


@dg.asset(
    deps=["contacts", "status_history", "events", "contact_engagement"],
    group_name="predictions",
    kinds={"duckdb", "numpy"},
    pool=DUCKDB_POOL,
)
def contact_predictions(
    context: dg.AssetExecutionContext, warehouse: ContactsWarehouse
) -> dg.MaterializeResult:
    """One row per contact as of the run's as-of date: churn risk over the prediction horizon (logistic
    regression fitted on the history one horizon back), expected purchase value over 365 days (BG/NBD with
    Gamma-Gamma), lifetime purchase value, and the features both were computed from."""
    step = warehouse.step(context)
    inputs = prediction_inputs(step, "contact_predictions")
    fitted = None
    with step.connect() as con:
        skipped = None if reclaim_pending(con, "contact_predictions", step.as_of) else unchanged(con, inputs)
        if skipped:
            context.log.info("predictions unchanged: %s", skipped)
        else:
            with step.publishing("contact_predictions"):
                fitted = compute_predictions(con, step.config, step.as_of)
            record(con, inputs)
            for model, reason in (
                ("churn_risk", fitted.churn.reason),
                ("predicted_value_365d", fitted.value.reason),
            ):
                if reason:
                    context.log.info("%s not computed: %s", model, reason)
        version = step.version("contact_predictions")
        total, risk, value, historical = con.execute(
            """select count(*), avg(churn_risk), sum(predicted_value_365d), sum(historical_value)
               from staging.contact_predictions"""
        ).fetchall()[0]
        bands = markdown_table(
            con,
            """select case when churn_risk is null then 'not computed' when churn_risk >= 0.8 then '0.8 - 1'
                           when churn_risk >= 0.5 then '0.5 - 0.8' when churn_risk >= 0.2 then '0.2 - 0.5'
                           else 'below 0.2' end as churn_risk,
                      count(*) as contacts
               from staging.contact_predictions group by all order by churn_risk desc""",
        )
    metadata = {
        "dagster/row_count": total,
        "as_of_date": step.as_of.isoformat(),
        "version": version if version is not None else dg.MetadataValue.null(),
        "average_churn_risk": number_or_null(risk),
        "total_predicted_value_365d": number_or_null(value),
        "total_historical_value": number_or_null(historical),
        "by_churn_risk": dg.MetadataValue.md(bands),
        **unchanged_metadata(skipped),
    }
    if fitted is not None:
        churn, value_model = fitted.churn, fitted.value
        fitted_churn = not churn.reason
        rows = [f"| intercept | {churn.intercept:.4f} | | |"] + [
            f"| log1p({name}) | {churn.coefficients[name]:.4f} | {churn.means[name]:.4f} | {churn.scales[name]:.4f} |"
            for name in CHURN_FEATURES
            if fitted_churn
        ]
        coefficients = dg.MetadataValue.md(
            "Logistic regression on standardised log1p features: z = intercept + sum coefficient x "
            "(log1p(feature) - mean) / scale; churn_risk = 1 / (1 + exp(-z)).\n\n"
            "| term | coefficient | mean | scale |\n|---|---|---|---|\n" + "\n".join(rows)
        )
        model = dg.MetadataValue.json(
            {
                "intercept": churn.intercept,
                "coefficients": churn.coefficients,
                "means": churn.means,
                "scales": churn.scales,
                "iterations": churn.iterations,
            }
        )
        metadata.update(
            {
                "churn_not_computed_because": _text(churn.reason),
                "churn_training_contacts": churn.n,
                "churn_training_base_rate": number_or_null(churn.base_rate),
                "churn_coefficients": coefficients if fitted_churn else dg.MetadataValue.null(),
                "churn_model": model if fitted_churn else dg.MetadataValue.null(),
                "value_not_computed_because": _text(value_model.reason),
                "value_buyers": value_model.buyers,
                "value_repeat_buyers": value_model.repeat_buyers,
                "value_horizon_days": VALUE_DAYS,
                **{
                    f"value_{name}": number_or_null(value_model.params.get(name)) for name in VALUE_PARAMETERS
                },
            }
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=["contacts", "status_history", "events", "contact_engagement"],
    group_name="predictions",
    kinds={"duckdb", "numpy"},
    pool=DUCKDB_POOL,
)
def prediction_backtest(
    context: dg.AssetExecutionContext, warehouse: ContactsWarehouse
) -> dg.MaterializeResult:
    """One row per model per as-of date: both models fitted as the live step would have one horizon before the
    as-of date, scored against what happened by it (AUC, Brier score, calibration by decile), or why not."""
    step = warehouse.step(context)
    inputs = prediction_inputs(step, "prediction_backtest")
    with step.connect() as con:
        skipped = None if reclaim_pending(con, "prediction_backtest", step.as_of) else unchanged(con, inputs)
        if skipped:
            context.log.info("prediction back-test unchanged: %s", skipped)
        else:
            with step.publishing("prediction_backtest"):
                store_backtest(con, step.config, step.as_of)
            record(con, inputs)
        version = step.version("prediction_backtest")
        rows = {
            model: (n, base_rate, auc, brier, reason)
            for model, n, base_rate, auc, brier, reason in con.execute(
                """select model, n, base_rate, auc, brier, reason from staging.prediction_backtest
                   where as_of_date = ?""",
                [step.as_of],
            ).fetchall()
        }
        (total,) = con.execute("select count(*) from staging.prediction_backtest").fetchall()[0]
        calibration = markdown_table(
            con,
            """select model, c.decile, c.n, round(c.predicted, 4) as predicted, round(c.observed, 4) as observed
               from (select model, unnest(calibration) as c from staging.prediction_backtest where as_of_date = ?)
               order by model, c.decile""",
            [step.as_of],
        )
    metadata = {
        "dagster/row_count": total,
        "as_of_date": step.as_of.isoformat(),
        "version": version if version is not None else dg.MetadataValue.null(),
        "calibration": dg.MetadataValue.md(calibration),
        **unchanged_metadata(skipped),
    }
    for model in ("churn_risk", "predicted_value"):
        n, base_rate, auc, brier, reason = rows.get(model, (None, None, None, None, None))
        metadata.update(
            {
                f"{model}_n": n if n is not None else dg.MetadataValue.null(),
                f"{model}_base_rate": number_or_null(base_rate),
                f"{model}_auc": number_or_null(auc),
                f"{model}_brier": number_or_null(brier),
                f"{model}_not_computed_because": _text(reason),
            }
        )
    context.log.info(
        "prediction back-test: %s", json.dumps({m: {"auc": r[2], "reason": r[4]} for m, r in rows.items()})
    )
    return dg.MaterializeResult(metadata=metadata)
