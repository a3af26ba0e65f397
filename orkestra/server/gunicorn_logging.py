"""gunicorn's logger class, printing the same JSON (or text) lines as the rest of Orkestra on
stdout (docs/runtime.md §1, §14): the format is the one `orkestra.logs.configure` was given
(`LOG_FORMAT`, from the settings) before gunicorn started. The access log is only configured at
`LOG_LEVEL=debug`."""
from __future__ import annotations

import logging
import sys
from typing import Any

from gunicorn.glogging import Logger

from orkestra.logs import configured_formatter


class JsonGunicornLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = configured_formatter()
        targets = [self.error_log] + ([self.access_log] if cfg.accesslog else [])
        for target in targets:
            for handler in list(target.handlers):
                target.removeHandler(handler)
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(formatter)
            target.addHandler(handler)
            target.propagate = False
