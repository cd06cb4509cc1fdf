"""Stage 1, ingest: discover inbox files, read them within limits (formats, encodings, dialects, mojibake), map headers (manifests), and store each file in one transaction with its ledger row."""
