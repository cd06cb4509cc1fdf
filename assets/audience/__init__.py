"""Stage 4, audience: list membership and SQL-defined segments."""
