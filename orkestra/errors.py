"""The root of Orkestra's error types.

Each layer defines its own subclasses (Katalog errors with file/line/path, API errors with
verb/resource/status, template errors with the field path). `safe_reconcile` treats every
`OrkestraError` as an *expected* failure (logged without a traceback at info levels); any other
exception is a panic. `BadRequest` is the one HTTP input error of both servers (the runtime API
and the webhooks).
"""


class OrkestraError(Exception):
    """An expected, user-explainable failure."""


class BadRequest(Exception):
    """A malformed HTTP request, answered with `status` and `{"error": message}` (never a 500)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
