"""Stage 5, metrics: list health and segment health, by day, and the HTML report."""
