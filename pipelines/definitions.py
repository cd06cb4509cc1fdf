"""The one Definitions object of the `contacts` code location."""

from __future__ import annotations

import dagster as dg

from assets.audience_assets import build_segment_assets, lists
from assets.contacts_assets import contact_engagement, contact_state, inbox_files
from assets.export_assets import build_export_assets
from assets.metrics_assets import build_metrics_assets, list_health
from assets.segments import discover_segments
from pipelines.config import ConfigError, load_config
from pipelines.resources import ContactsWarehouse
from pipelines.settings import Paths, paths_from_env

REFRESH_JOB = "refresh_contacts"


def static_list_ids(paths: Paths) -> list[str]:
    """Lists to export, from contacts.yaml; a broken config fails the run itself with its own message."""
    try:
        config = load_config(paths.config_path)
    except ConfigError:
        return []
    return [list_id for list_id, spec in config.lists.items() if not spec.test]


def build_definitions(paths: Paths) -> dg.Definitions:
    segments = discover_segments(paths.segments_dir)
    segment_assets = build_segment_assets(segments)
    segment_keys = [key for asset in segment_assets for key in asset.keys if key.path[0] == "segments"]
    return dg.Definitions(
        assets=[
            inbox_files, contact_state, contact_engagement, lists, *segment_assets,
            list_health, *build_metrics_assets(segment_keys),
            *build_export_assets(segments, static_list_ids(paths)),
        ],
        jobs=[dg.define_asset_job(REFRESH_JOB, selection=dg.AssetSelection.all(), description="Materialize every asset and check.")],
        # One process, one step at a time: DuckDB has a single writer, and the segment sandbox opens the file
        # read-only, which a writer in another process would block. Also applies to `dg launch` and the UI.
        executor=dg.in_process_executor,
        resources={"warehouse": ContactsWarehouse(data_dir=str(paths.data_dir), config_path=str(paths.config_path))},
    )


defs = build_definitions(paths_from_env())
