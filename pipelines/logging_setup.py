"""A console logger that prints one line per message at INFO and above: the cause, not a traceback wall.
The full detail, stack traces included, stays in the Dagster event log (the UI)."""

from __future__ import annotations

import logging
import sys

import dagster as dg


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        message = meta.get("orig_message") or record.getMessage()
        step = meta.get("step_key") or ""
        first = next((line.strip() for line in message.splitlines() if line.strip()), "")
        if step and first.startswith(f'Execution of step "{step}" failed'):
            # the reason is on the line that names the exception
            first = next(
                (
                    line.split(": ", 1)[-1]
                    for line in message.splitlines()
                    if "Failure:" in line or "Error:" in line
                ),
                first,
            )
        return f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {step + ': ' if step else ''}{first}"


@dg.logger(
    config_schema={"log_level": dg.Field(str, is_required=False, default_value="INFO")},
    description="One line per message at INFO and above.",
)
def concise_console(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("contacts.console")
    logger.setLevel(init_context.logger_config["log_level"])
    logger.propagate = False
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter())
        logger.addHandler(handler)
    return logger
