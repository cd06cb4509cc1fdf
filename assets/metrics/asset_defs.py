"""Dagster wrappers for the metrics: list_health, segment_health, and the HTML report (DESIGN 8)."""

import datetime as dt
from pathlib import Path

import dagster as dg

from assets.metrics.deliverability import RATE_LIMITS, over_limit
from assets.metrics.health import compute_list_health, compute_segment_health
from assets.metrics.report import HTML_NAME, PDF_NAME, write_report
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

HEADLINE_LISTS = ("all", "subscribed")
# One partition per day, so the asset page plots each list's figures over days (Dagster plots a partitioned
# asset's metadata by partition). list_health stays one unpartitioned asset: a single SQL pass recomputes
# only the touched days under the one writer; it reports those days here as they are recomputed.
DAYS = dg.DynamicPartitionsDefinition(name="list_health_days")
HEADLINE_METRICS = (
    "members",
    "subscribed",
    "new_subscribers",
    "churned",
    "growth_rate",
    "churn_rate",
    "engagement_rate",
)
DAILY_FIGURES = HEADLINE_METRICS
# The as-of day's deliverability of the `all` list (the whole mail stream), flagged against the providers'
# limits (assets/metrics/deliverability.py).
DELIVERABILITY_LIST = "all"
DELIVERABILITY_FIGURES = ("messages_sent", "bounce_rate", "complaint_rate", "unsubscribe_rate")
list_health_by_day = dg.AssetSpec(
    "list_health_by_day",
    deps=["list_health"],
    group_name="metrics",
    kinds={"duckdb"},
    partitions_def=DAYS,
    description="list_health's figures per day (a partition per day), reported by list_health for each day it "
    "recomputes: plot members, new subscribers, churned, growth and churn rates of each list over days.",
)


@dg.asset(
    deps=["list_members", "contacts", "status_history", "events"],
    group_name="metrics",
    kinds={"duckdb"},
    pool=DUCKDB_POOL,
)
def list_health(context: dg.AssetExecutionContext, warehouse: ContactsWarehouse) -> dg.MaterializeResult:
    """One row per list per day (configured timezone) up to the as-of date: size, growth, churn, engagement.
    Only the days that new inputs touch are recomputed."""
    step = warehouse.step(context)
    as_of = step.as_of
    # A new day with no new input takes its day from the days computed ahead (assets/metrics/health.py); the
    # same day with no new input does nothing.
    inputs = StepInputs(
        "list_health",
        {
            "config": config_token(step.config),
            "sql": sql_token("models/list_health.sql"),
            "as_of": as_of.isoformat(),
        },
        lambda con: {
            **data_tokens(con),
            **{
                relation: relation_token(con, relation)
                for relation in ("contacts", "list_members", "list_health")
            },
        },
    )
    with step.connect() as con:
        skipped = None if reclaim_pending(con, "list_health", as_of) else unchanged(con, inputs)
        if skipped:
            context.log.info("list health unchanged: %s", skipped)
            start = as_of + dt.timedelta(days=1)
        else:
            with step.publishing("list_health"):
                start = compute_list_health(con, step.config, as_of)
            record(con, inputs)
        version = step.version("list_health")
        headline = {
            list_id: dict(zip(HEADLINE_METRICS, values, strict=True))
            for list_id, *values in con.execute(
                f"select list_id, {', '.join(HEADLINE_METRICS)} from staging.list_health where day = ? and list_id in ('all', 'subscribed')",
                [as_of],
            ).fetchall()
        }
        delivery = dict(
            zip(
                DELIVERABILITY_FIGURES,
                con.execute(
                    f"select {', '.join(DELIVERABILITY_FIGURES)} from staging.list_health where day = ? and list_id = ?",
                    [as_of, DELIVERABILITY_LIST],
                ).fetchone()
                or (None,) * len(DELIVERABILITY_FIGURES),
                strict=True,
            )
        )
        (total,) = con.execute("select count(*) from staging.list_health").fetchone()
        (recomputed,) = con.execute(
            "select count(distinct day) from staging.list_health where day >= ?", [start]
        ).fetchone()
        last_week = markdown_table(
            con,
            """select list_id, day, members, subscribed, new_subscribers, churned, growth_rate, churn_rate, engagement_rate
               from staging.list_health where day > ?::date - 7 and day <= ? order by list_id, day""",
            [as_of, as_of],
        )
        reported = report_days(context, con, start, as_of) if not skipped else 0
    metadata = {
        "dagster/row_count": total,
        "as_of_date": as_of.isoformat(),
        "days_recomputed": recomputed,
        "days_reported": reported,
        "version": version if version is not None else dg.MetadataValue.null(),
        "last_7_days": dg.MetadataValue.md(last_week),
        **unchanged_metadata(skipped),
    }
    for list_id in HEADLINE_LISTS:
        for metric in HEADLINE_METRICS:
            value = headline.get(list_id, {}).get(metric)
            # The same keys every run, so the UI plots them across runs.
            metadata[f"{list_id}_{metric}"] = number_or_null(value)
    metadata.update(deliverability_metadata(delivery))
    return dg.MaterializeResult(metadata=metadata)


def deliverability_metadata(delivery: dict) -> dict[str, dg.MetadataValue]:
    """`all_messages_sent`, `all_<rate>` and, for the bounce and complaint rates, `all_<rate>_over_limit` and
    `<rate>_limit`: the same keys every run (null figures before the list's first day; not over when nothing
    was sent)."""
    metadata: dict[str, dg.MetadataValue] = {}
    for figure in DELIVERABILITY_FIGURES:
        value = delivery.get(figure)
        metadata[f"{DELIVERABILITY_LIST}_{figure}"] = number_or_null(value)
    for rate, limit in RATE_LIMITS.items():
        metadata[f"{DELIVERABILITY_LIST}_{rate}_over_limit"] = dg.MetadataValue.bool(
            over_limit(delivery.get(rate), limit)
        )
        metadata[f"{rate}_limit"] = dg.MetadataValue.float(limit)
    return metadata


# Each day reported is a Dagster event (about 2 ms each): a first load of years of history would spend
# seconds on events for days nobody plots in the UI. Older days are in `list_health` and the HTML report.
DAYS_REPORTED = 90


def report_days(context: dg.AssetExecutionContext, con, start, as_of) -> int:
    """A materialization of list_health_by_day per recomputed day of the last DAYS_REPORTED, keys
    `<list>_<figure>` (the same every day, so each is one line over the days); days no list has any more are
    dropped from the partitions."""
    columns = ", ".join(DAILY_FIGURES)
    first_reported = max(start, as_of - dt.timedelta(days=DAYS_REPORTED - 1))
    rows = con.execute(
        f"select day::varchar, list_id, {columns} from staging.list_health where day >= ? and day <= ? order by day, list_id",
        [first_reported, as_of],
    ).fetchall()
    present = {
        row[0]
        for row in con.execute(
            "select distinct day::varchar from staging.list_health where day <= ?", [as_of]
        ).fetchall()
    }
    instance = context.instance
    known = set(instance.get_dynamic_partitions(DAYS.name))
    for day in sorted(known - present):
        if day <= as_of.isoformat():
            instance.delete_dynamic_partition(DAYS.name, day)
    # Before a list's first day it has no row: its keys are null then, never missing.
    keys = [f"{list_id}_{figure}" for list_id in sorted({row[1] for row in rows}) for figure in DAILY_FIGURES]
    days: dict[str, dict[str, dg.MetadataValue]] = {}
    for day, list_id, *values in rows:
        figures = days.setdefault(day, dict.fromkeys(keys, dg.MetadataValue.null()))
        for figure, value in zip(DAILY_FIGURES, values, strict=True):
            if value is not None:
                figures[f"{list_id}_{figure}"] = dg.MetadataValue.float(float(value))
    if new := sorted(set(days) - known):
        instance.add_dynamic_partitions(DAYS.name, new)
    for day, figures in days.items():
        context.log_event(
            dg.AssetMaterialization(asset_key=list_health_by_day.key, partition=day, metadata=figures)
        )
    return len(days)


def report_stat(path: Path) -> list | None:
    """What changes when the report file is written, replaced or deleted."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def build_metrics_assets(segment_keys: list[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    @dg.asset(
        deps=["segment_catalog", *segment_keys], group_name="metrics", kinds={"duckdb"}, pool=DUCKDB_POOL
    )
    def segment_health(
        context: dg.AssetExecutionContext, warehouse: ContactsWarehouse
    ) -> dg.MaterializeResult:
        """One row per segment and version at which its membership changed: size, entered, exited, open and click rate."""
        step = warehouse.step(context)
        # Rebuilt from the segments' history and the events: unchanged while no segment changed and no file came.
        inputs = StepInputs(
            "segment_health",
            {"config": config_token(step.config), "sql": sql_token("models/segment_health.sql")},
            lambda con: {**data_tokens(con), "segment_members": relation_token(con, "segment_members")},
        )
        with step.connect() as con:
            skipped = unchanged(con, inputs)
            if skipped:
                context.log.info("segment health unchanged: %s", skipped)
            else:
                with step.publishing():
                    compute_segment_health(con, step.config)
                record(con, inputs)
            (total,) = con.execute("select count(*) from segment_health").fetchone()
            latest = markdown_table(
                con,
                """select segment_id, version, as_of_date, size, entered, exited, open_rate, click_rate from segment_health
                   qualify row_number() over (partition by segment_id order by version desc) = 1 order by segment_id""",
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": total,
                "latest": dg.MetadataValue.md(latest),
                **unchanged_metadata(skipped),
            }
        )

    @dg.asset(
        deps=["list_health", "segment_health", "segment_catalog", "prediction_backtest"],
        group_name="metrics",
        kinds={"html", "pdf"},
        pool=DUCKDB_POOL,
    )
    def list_health_report(
        context: dg.AssetExecutionContext, warehouse: ContactsWarehouse
    ) -> dg.MaterializeResult:
        """data/reports/list_health.html and .pdf: a summary per list, audience overlap, segment performance,
        the prediction back-tests, then each list's charts by week, month and day. Opens offline; served by
        `contacts serve-reports` (started by `make ui`) at the `open` link."""
        step = warehouse.step(context)
        directory = warehouse.paths.data_dir / "reports"
        html_path, pdf_path = directory / HTML_NAME, directory / PDF_NAME
        reports = step.config.reports
        with step.connect() as con:
            # The report shows the public views: after a backfill still the newest as-of day, so say that day.
            (shown,) = con.execute(
                "select as_of_date from versions where version = current_version('list_health')"
            ).fetchone() or (None,)
            # Unchanged while the versions it shows, the day it names and the files themselves are as it left them.
            inputs = StepInputs(
                "list_health_report",
                {"config": config_token(step.config), "day": (shown or step.as_of).isoformat()},
                lambda con: {
                    **data_tokens(con),
                    "list_health": con.execute("select current_version('list_health')").fetchall()[0][0],
                    **{
                        relation: relation_token(con, relation)
                        for relation in ("segment_members", "prediction_backtest")
                    },
                    "file": report_stat(html_path),
                    "pdf": report_stat(pdf_path) if reports.pdf else None,
                },
            )
            skipped = unchanged(con, inputs)
            if skipped:
                context.log.info("%s unchanged: %s", html_path, skipped)
                summary = None
            else:
                written = write_report(con, directory, shown or step.as_of, pdf=reports.pdf)
                summary = written.summary_markdown
                record(con, inputs)
                context.log.info(
                    "wrote %s (%d charts)%s",
                    html_path,
                    written.charts,
                    f" and {pdf_path} ({written.pages} pages)" if written.pdf else "",
                )
        served = f"http://127.0.0.1:{reports.serve_port}"
        metadata = {
            "path": dg.MetadataValue.path(str(html_path)),
            # A browser opens no file:// link from the UI's http:// page: the report is served instead.
            "open": dg.MetadataValue.url(f"{served}/{HTML_NAME}"),
            "served_by": "contacts serve-reports (started by make ui)",
            **unchanged_metadata(skipped),
        }
        if reports.pdf:
            metadata["pdf"] = dg.MetadataValue.path(str(pdf_path))
            metadata["open_pdf"] = dg.MetadataValue.url(f"{served}/{PDF_NAME}")
        if summary is not None:
            metadata["summary"] = dg.MetadataValue.md(summary)
        return dg.MaterializeResult(metadata=metadata)

    return [segment_health, list_health_report]
