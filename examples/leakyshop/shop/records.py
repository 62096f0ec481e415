"""A logging handler for the demo: each heapwatch request record's data
(``record.heapwatch``) as one JSON line, appended to a file."""

import json
import logging


class RecordsFile(logging.Handler):
    def __init__(self, filename: str) -> None:
        super().__init__()
        self.filename = filename

    def emit(self, record: logging.LogRecord) -> None:
        data = getattr(record, "heapwatch", None)
        if record.name != "heapwatch.request" or not isinstance(data, dict):
            return
        try:
            with open(self.filename, "a") as f:
                f.write(json.dumps({**data, "level": record.levelname}, default=str) + "\n")
        except Exception:
            self.handleError(record)
