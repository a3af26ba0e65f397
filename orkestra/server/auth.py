"""Who may read the runtime HTTP API: Kubernetes TokenReview, then SubjectAccessReview.

With `ORK_API_AUTH=kubernetes` a caller sends `Authorization: Bearer <token>`. The token is
checked with a TokenReview; the user it names must then be allowed, by a SubjectAccessReview,
the Kubernetes access that matches what it asks for: `list` on the CRD's resource for a CR list
(in `?namespace=` or cluster-wide), `get` on the named CR for one CR, `list events` in the CR's
namespace for its events, and `get` on the request path (a non-resource URL) for `/katalog/raw`,
`/katalog/enriched` and, unless `ORK_API_AUTH_SUMMARIES=open`, `/metrics` and the `/katalog`
summaries. Probes are always open. Answers are cached for a few seconds so a dashboard polling
every second costs the API server two reviews per interval, not per request.

`Authorizer` is pure (reviews come through the `Reviewer` protocol, time from a clock), so the
decisions are unit-tested without a cluster; `KubeReviewer` is the API-server side.
docs/security.md has the user-facing description.
"""
from __future__ import annotations

import enum
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from orkestra.kube import ApiError, KubeClient
from orkestra.ttlcache import TtlCache

CACHE_SECONDS = 5.0
CACHE_ENTRIES = 4096
REVIEW_TIMEOUT = 5.0


class Decision(enum.Enum):
    ALLOWED = 200
    UNAUTHENTICATED = 401
    FORBIDDEN = 403
    UNAVAILABLE = 503


@dataclass(frozen=True)
class Access:
    """One Kubernetes permission: a resource verb (`resource` set) or a non-resource URL (`path`)."""

    verb: str
    group: str = ""
    resource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    def attributes(self) -> dict[str, Any]:
        """The SubjectAccessReview `spec` fields for this access."""
        if self.path:
            return {"nonResourceAttributes": {"path": self.path, "verb": self.verb}}
        attrs = {"verb": self.verb, "group": self.group, "resource": self.resource}
        if self.namespace:
            attrs["namespace"] = self.namespace
        if self.name:
            attrs["name"] = self.name
        return {"resourceAttributes": attrs}

    def describe(self) -> str:
        if self.path:
            return f"{self.verb} {self.path}"
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        where = f' in namespace "{self.namespace}"' if self.namespace else " cluster-wide"
        return f"{self.verb} {what}{'/' + self.name if self.name else ''}{where}"


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


class ReviewUnavailable(Exception):
    """The API server could not answer a review: the request fails closed (503)."""


class Reviewer(Protocol):
    def token_review(self, token: str) -> User | None: ...

    def access_review(self, user: User, access: Access) -> bool: ...


class KubeReviewer:
    """Reviews against the API server, through the process's client (read at call time: the
    engine creates it after the app)."""

    def __init__(self, kube: Callable[[], KubeClient | None]) -> None:
        self._kube = kube

    def _post(self, path: str, body: dict) -> dict:
        kube = self._kube()
        if kube is None:
            raise ReviewUnavailable("the runtime is not connected to Kubernetes yet")
        try:
            return kube.request("POST", path, body=body, timeout=REVIEW_TIMEOUT)
        except ApiError as err:
            raise ReviewUnavailable(f"{err.status} {err.reason}") from None
        except ValueError:   # a 2xx answer that is not JSON: still no decision, so fail closed
            raise ReviewUnavailable("the API server answered the review with something other than JSON") from None

    def token_review(self, token: str) -> User | None:
        doc = self._post("/apis/authentication.k8s.io/v1/tokenreviews",
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
        status = doc.get("status") or {}
        if not status.get("authenticated"):
            return None
        info = status.get("user") or {}
        extra = tuple(sorted((k, tuple(v)) for k, v in (info.get("extra") or {}).items()))
        return User(info.get("username", ""), info.get("uid", ""), tuple(info.get("groups") or ()), extra)

    def access_review(self, user: User, access: Access) -> bool:
        spec: dict[str, Any] = {"user": user.name, "groups": list(user.groups), **access.attributes()}
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra}
        doc = self._post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                         {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
        return bool((doc.get("status") or {}).get("allowed"))


class Authorizer:
    """Decides one request: token → user (cached), user × access → allowed (cached)."""

    def __init__(self, reviewer: Reviewer, *, ttl: float = CACHE_SECONDS, size: int = CACHE_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._reviewer = reviewer
        self._users = TtlCache(ttl, size, clock)
        self._grants = TtlCache(ttl, size, clock)

    def decide(self, authorization: str | None, access: Access | None) -> tuple[Decision, str]:
        """(decision, message). `access` None means "any authenticated caller" (the CRD is
        unknown: the view answers 404 once the caller is known)."""
        token = bearer_token(authorization)
        if token is None:
            return Decision.UNAUTHENTICATED, "a bearer token is required (Authorization: Bearer <token>)"
        try:
            # keyed by a digest so the cache never holds the token itself
            user = self._users.get(hashlib.sha256(token.encode()).digest(),
                                   lambda: self._reviewer.token_review(token))
            if user is None:
                return Decision.UNAUTHENTICATED, "the bearer token was not accepted by Kubernetes"
            if access is None:
                return Decision.ALLOWED, ""
            if self._grants.get((user, access), lambda: self._reviewer.access_review(user, access)):
                return Decision.ALLOWED, ""
        except ReviewUnavailable as err:
            return Decision.UNAVAILABLE, f"cannot check credentials: {err}"
        return Decision.FORBIDDEN, f'user "{user.name}" may not {access.describe()}'


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
