"""Structured log lines (logfmt: `ts=… level=… event=… key=value…`), one per event, on stderr."""

from __future__ import annotations

import logging
import sys
import time

LOGGER_NAME = "svcctl.registrator"


def _quote(value: object) -> str:
    text = f"{value:.1f}" if isinstance(value, float) else str(value)
    if text == "" or any(c in text for c in ' "=\t\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        fields = getattr(record, "fields", {})
        parts = [f"ts={ts}", f"level={record.levelname.lower()}", f"event={record.getMessage()}"]
        parts += [f"{k}={_quote(v)}" for k, v in fields.items() if v is not None]
        return " ".join(parts)


def setup_logging(level: int = logging.INFO) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(LogfmtFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def log(event: str, level: int = logging.INFO, **fields: object) -> None:
    logging.getLogger(LOGGER_NAME).log(level, event, extra={"fields": fields})
