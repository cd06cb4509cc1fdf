"""The one Definitions object of the `contacts` code location."""

from __future__ import annotations

import dagster as dg

from assets.audience.asset_defs import build_segment_assets, lists_and_members
from assets.audience.segments import discover_segments
from assets.contacts.asset_defs import contact_engagement, contacts_statuses_and_events
from assets.contacts.duplicate_defs import duplicate_candidates
from assets.erasure.asset_defs import erasure_log
from assets.exports.asset_defs import build_export_assets
from assets.ingest.asset_defs import ledger_and_rejects
from assets.metrics.asset_defs import build_metrics_assets, list_health, list_health_by_day
from assets.metrics.prediction_defs import contact_predictions, prediction_backtest
from pipelines.automation import build_daily_schedule, build_inbox_sensor
from pipelines.config import ConfigError, ContactsConfig, load_config
from pipelines.logging_setup import concise_console
from pipelines.resources import ContactsWarehouse
from pipelines.settings import Paths, paths_from_env

REFRESH_JOB = "refresh_contacts"


def config_for_definitions(paths: Paths) -> ContactsConfig:
    """The config the assets are built from. A broken file fails the code location, with the file, key and
    reason shown on it in the UI: built from defaults instead, the location would load green with other
    assets (a list's exports gone) and nothing would say why."""
    try:
        return load_config(paths.config_path)
    except ConfigError as exc:
        raise ConfigError(f"the contacts code location cannot load, fix contacts.yaml first: {exc}") from None


def build_definitions(paths: Paths) -> dg.Definitions:
    config = config_for_definitions(paths)
    segments = discover_segments(paths.segments_dir)
    segment_assets = build_segment_assets(segments)
    segment_keys = [key for asset in segment_assets for key in asset.keys if key.path[0] == "segments"]
    return dg.Definitions(
        assets=[
            erasure_log,
            ledger_and_rejects,
            contacts_statuses_and_events,
            contact_engagement,
            duplicate_candidates,
            lists_and_members,
            *segment_assets,
            list_health,
            list_health_by_day,
            contact_predictions,
            prediction_backtest,
            *build_metrics_assets(segment_keys),
            *build_export_assets(
                segments, [list_id for list_id, spec in config.lists.items() if not spec.test]
            ),
        ],
        sensors=[build_inbox_sensor(paths, REFRESH_JOB)],
        schedules=[build_daily_schedule(REFRESH_JOB, config.schedule.daily_at, config.timezone)],
        jobs=[
            dg.define_asset_job(
                REFRESH_JOB,
                selection=dg.AssetSelection.all(),
                description="Materialize every asset and check.",
            )
        ],
        # One process, one step at a time: DuckDB has a single writer, and the segment sandbox opens the file
        # read-only, which a writer in another process would block. Also applies to `dg launch` and the UI.
        executor=dg.in_process_executor,
        loggers={"console": concise_console},
        resources={
            "warehouse": ContactsWarehouse(data_dir=str(paths.data_dir), config_path=str(paths.config_path))
        },
    )


defs = build_definitions(paths_from_env())
