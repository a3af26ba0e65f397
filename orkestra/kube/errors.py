"""`ApiError`: the one error type of the Kubernetes I/O layer.

Every failed API call surfaces as an `ApiError` naming the verb, the resource and the HTTP status,
so callers (reconcile, the engine, the CLI) can turn it into a readable line without a traceback.
Connection failures use status 0. The Status body is kept (already decoded) for callers that need
`details`; tokens never appear in it because request headers are never stored.
"""
from __future__ import annotations

import json
from typing import Any

from orkestra.errors import OrkestraError
from orkestra.gvk import GVR


class ApiError(OrkestraError):
    """A Kubernetes API call failed.

    `status` is the HTTP status (0 when the server could not be reached), `reason` the Status
    reason (`NotFound`, `Conflict`, `Gone`, ...), `message` the server's message.
    """

    def __init__(self, *, status: int, reason: str, message: str, verb: str, resource: str,
                 body: dict | None = None, retry_after: float | None = None) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.verb = verb
        self.resource = resource
        self.body = body or {}
        self.retry_after = retry_after
        super().__init__(f"{verb} {resource}: {status} {reason}: {message}" if status
                         else f"{verb} {resource}: {message}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        return self.status == 410

    @property
    def forbidden(self) -> bool:
        return self.status in (401, 403)

    @classmethod
    def from_response(cls, *, status: int, data: bytes, verb: str, resource: str,
                      retry_after: float | None = None) -> "ApiError":
        """Build from an HTTP error response; the body is a Status object when the server wrote one."""
        body = decode_status(data)
        return cls(status=status, reason=body.get("reason") or _REASONS.get(status, "Error"),
                   message=body.get("message") or _short_text(data), verb=verb, resource=resource,
                   body=body, retry_after=retry_after)


_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            405: "MethodNotAllowed", 409: "Conflict", 410: "Gone", 415: "UnsupportedMediaType",
            422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}


def failure_reason(err: ApiError, *, owner: GVR | None = None) -> str:
    """Why a write failed, as a reconcile error shows it: the server's message, kept with its
    status for a 401/403 so it reads as a permission problem (docs/rbac.md).

    The API server's refusal of an ownerReference with `blockOwnerDeletion` for want of a
    permission does not say which; it is `update` on the owner's `finalizers` subresource, named
    here when `owner` (the CR's GVR) is known. (The same plugin also refuses while it cannot map
    a kind whose CRD was created moments ago, `cannot find RESTMapping`: no permission is missing.)
    """
    if not err.forbidden:
        return err.message or str(err)
    text = f"{err.status} {err.reason}: {err.message}"
    if owner is not None and "can't set finalizers on" in err.message:
        text += f' (cannot update resource "{owner.resource}/finalizers" in API group "{owner.group}")'
    return text


def decode_status(data: bytes) -> dict[str, Any]:
    """The JSON Status object in an error body, or {} if the body is not JSON."""
    try:
        decoded = json.loads(data) if data else {}
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _short_text(data: bytes) -> str:
    return data[:200].decode("utf-8", "replace").strip() or "no message"
