"""The bulk-sender limits the report marks (placeholder until the deliverability branch lands)."""

COMPLAINT_RATE_LIMIT = 0.003
BOUNCE_RATE_LIMIT = 0.02
