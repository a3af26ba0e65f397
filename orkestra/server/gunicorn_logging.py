"""gunicorn's logger class, printing the same JSON (or text) lines as the rest of Orkestra on
stdout (docs/runtime.md §1, §14). The access log is only configured at `LOG_LEVEL=debug`."""
from __future__ import annotations

import logging
import os
import sys
from typing import Any

from gunicorn.glogging import Logger

from orkestra.logs import make_formatter


class JsonGunicornLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = make_formatter(os.environ.get("LOG_FORMAT", "json").lower())
        targets = [self.error_log] + ([self.access_log] if cfg.accesslog else [])
        for target in targets:
            for handler in list(target.handlers):
                target.removeHandler(handler)
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(formatter)
            target.addHandler(handler)
            target.propagate = False
