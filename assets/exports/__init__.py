"""Stage 6, exports: versioned segment and list files, their audit, and latest/backfill folders."""
