"""Stage 3, contacts: merge staged rows into contacts, replay statuses, suppressions, events, and per-contact engagement."""
