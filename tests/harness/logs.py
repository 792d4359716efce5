"""A logging handler that keeps what a test's logger says."""

from __future__ import annotations

import logging


class Kept(logging.Handler):
    """The records given to it at ``level`` or above; ``lines``: their messages."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def lines(self) -> list[str]:
        return [record.getMessage() for record in self.records]

    def clear(self) -> None:
        self.records.clear()
