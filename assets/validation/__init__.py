"""Stage 2, validation: email addresses (fast path, email-validator, verdict cache), typed fields, timestamps and status words, and the validated frames of contact and event rows."""
