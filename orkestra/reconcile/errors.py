"""Expected reconcile failures, each carrying the Event reason the engine reports it under.

`safe_reconcile` (engine) emits a Warning event with `error.reason` and the error string, and
calls `Reconciler.report_failure` with the same reason; a `ValidationDenied` is therefore never
also reported as `ReconcileError`.
"""
from __future__ import annotations

from orkestra.errors import OrkestraError


class ReconcileError(OrkestraError):
    """A reconcile that failed for a reason the user can fix (templates, API writes, hooks' requests)."""

    reason = "ReconcileError"


class CrGone(ReconcileError):
    """The CR a reconcile works on was deleted under it; the reconcile ends without a failure."""


class ValidationDenied(ReconcileError):
    """Deny rules fired on the CR (docs/katalog.md#validation). The message is `validation denied: …`."""

    reason = "ValidationDenied"


class RenderError(ReconcileError):
    """A template entry could not be turned into a manifest; the message names the field path."""


class ApplyFailed(ReconcileError):
    """One or more children could not be written: `apply failed: <kind> <ns>/<name>: <reason>; …`."""


class OwnerConflict(ReconcileError):
    """A child the CR renders exists and is not this CR's (another owner's, or nobody's): it is
    reported as a Warning Event and a reconcile error, never written (docs/ownership.md)."""

    def __init__(self, ref: str, detail: str) -> None:
        self.ref = ref
        self.detail = f"{detail}; not taken over"
        super().__init__(f"{ref}: {self.detail}")
