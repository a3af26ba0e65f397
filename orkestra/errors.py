"""The root of Orkestra's error types.

Each layer defines its own subclasses (Katalog errors with file/line/path, API errors with
verb/resource/status, template errors with the field path). `safe_reconcile` treats every
`OrkestraError` as an *expected* failure (logged without a traceback at info levels); any other
exception is a panic.
"""


class OrkestraError(Exception):
    """An expected, user-explainable failure."""
