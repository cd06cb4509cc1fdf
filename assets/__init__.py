"""One module per pipeline stage: plain functions plus thin Dagster wrappers."""
