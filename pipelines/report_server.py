"""`contacts serve-reports`: serve data/reports over HTTP on 127.0.0.1, so that the report asset's link opens
from the Dagster UI (a browser follows no file:// link from an http:// page)."""

from __future__ import annotations

import functools
import http.server
import sys
from pathlib import Path


class ReportHandler(http.server.SimpleHTTPRequestHandler):
    """Files of the reports folder only (SimpleHTTPRequestHandler resolves paths inside its directory), read
    fresh on each request so a new run's report shows on reload."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        sys.stderr.write(f"serve-reports: {format % args}\n")


def serve_reports(directory: Path, host: str, port: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(ReportHandler, directory=str(directory))
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        print(f"serving {directory} at http://{host}:{port}/list_health.html (Ctrl-C stops)", file=sys.stderr)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
