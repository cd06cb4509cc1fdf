"""Orchestration glue for the contacts pipeline: settings, config, warehouse helpers, Dagster definitions, CLI."""
