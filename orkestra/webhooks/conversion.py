"""`/convert`: ConversionReview handling with the algorithm of docs/katalog.md#conversion.

Each conversion group's path specs are compiled once (`Converter`): template leaves become
compiled templates, everything else stays as written, so converting an object is one walk of
a small tree. `convert_review` converts every object of a review; the first failure turns the
whole answer into `Failure` with `"<ns>/<name>: <reason>"` (docs/webhooks.md §4). Per-object latency
and outcome go to the stats and to the conversion metrics.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from orkestra import metrics
from orkestra.gvk import split_api_version
from orkestra.template import Template, compile_template, is_template
from orkestra.webhooks.plan import ConversionGroup, WebhookPlan
from orkestra.webhooks.stats import WebhookStats

log = logging.getLogger("orkestra.webhooks")


class ConversionFailed(Exception):
    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


class _Leaf:
    """A compiled template leaf of a path spec."""
    __slots__ = ("template", "source")

    def __init__(self, template: Template, source: str) -> None:
        self.template = template
        self.source = source


_OMIT = object()


def _compile(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _compile(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_compile(v) for v in node]
    if isinstance(node, str) and is_template(node):
        return _Leaf(compile_template(node), node)
    return node


def _render(node: Any, source: dict) -> Any:
    if isinstance(node, _Leaf):
        value = node.template.render_value(source)
        return _OMIT if value is None or value == "" else value
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            r = _render(v, source)
            if r is not _OMIT:
                out[k] = r
        return out
    if isinstance(node, list):
        return [r for r in (_render(v, source) for v in node) if r is not _OMIT]
    return node


def scope_of(group: ConversionGroup) -> str:
    """Stats scope shared by every entry of a conversion group."""
    return f"conversion:{group.group}/{group.kind}"


class Converter:
    """The compiled paths of one conversion group."""

    def __init__(self, group: ConversionGroup) -> None:
        self.group = group
        self._paths: dict[tuple[str, str], Any] = {}
        self._broken: dict[tuple[str, str], str] = {}
        for key, spec in group.paths.items():
            try:
                self._paths[key] = _compile(spec)
            except Exception as e:  # the loader checks templates; keep serving the other paths
                self._broken[key] = f"invalid template in conversion path {key[0]}→{key[1]}: {e}"

    def convert(self, obj: dict, desired_version: str) -> dict:
        source_version = split_api_version(obj["apiVersion"])[1]
        g = self.group
        out = dict(obj)
        out["apiVersion"] = f"{g.group}/{desired_version}"
        if source_version == desired_version:
            return out
        key = (source_version, desired_version)
        if key in self._broken:
            raise ConversionFailed(self._broken[key], "template")
        compiled = self._paths.get(key)
        if compiled is None:
            raise ConversionFailed(
                f"no conversion path from {g.group}/{source_version} to {g.group}/{desired_version} "
                f"for kind {g.kind}; add it under conversion.paths", "no_path")
        try:
            out["spec"] = _render(compiled, obj)
        except Exception as e:
            raise ConversionFailed(f"conversion {source_version}→{desired_version}: {e}", "template") from e
        return out


def build_converters(plan: WebhookPlan) -> dict[tuple[str, str], Converter]:
    return {key: Converter(g) for key, g in plan.conversion_groups.items()}


def _object_ref(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    name, ns = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    return f"{ns}/{name}" if ns else name


def convert_review(request: dict, converters: dict[tuple[str, str], Converter], stats: WebhookStats,
                   *, clock: Callable[[], float] = time.perf_counter) -> dict:
    """The `response` of a ConversionReview (request already validated by `review.parse_conversion`)."""
    desired_group, desired_version = split_api_version(request["desiredAPIVersion"])
    converted: list[dict] = []
    failure: str | None = None
    metrics.conversion_active.inc()
    try:
        for obj in request["objects"]:
            group, source_version = split_api_version(obj["apiVersion"])
            kind = obj["kind"]
            converter = converters.get((group, kind)) if group == desired_group else None
            start = clock()
            try:
                if converter is None:
                    raise ConversionFailed(f"unknown kind {kind} in group {group or 'core'} "
                                           f"(desired {request['desiredAPIVersion']})", "unknown_kind")
                converted.append(converter.convert(obj, desired_version))
                result = "success"
            except ConversionFailed as e:
                failure, result = f"{_object_ref(obj)}: {e.reason}", "failure"
                metrics.conversion_errors.labels(kind, e.error_type).inc()
                log.info("conversion failed", extra={"kind": kind, "object": _object_ref(obj), "error": e.reason})
            elapsed = clock() - start
            _record(stats, converter, kind, source_version, desired_version, result, elapsed)
            if failure is not None:
                break
    finally:
        metrics.conversion_active.dec()
    if failure is not None:
        return {"uid": request["uid"], "convertedObjects": [],
                "result": {"status": "Failure", "message": failure}}
    return {"uid": request["uid"], "convertedObjects": converted, "result": {"status": "Success"}}


def _record(stats: WebhookStats, converter: Converter | None, kind: str, source: str, desired: str,
            result: str, elapsed: float) -> None:
    metrics.conversion_requests.labels(kind, source, desired, result).inc()
    metrics.conversion_duration.labels(kind, source, desired).observe(elapsed)
    if converter is None:
        return
    scope = scope_of(converter.group)
    failed = result != "success"
    stats.count(scope, "total", "failures" if failed else "success")
    stats.observe(scope, elapsed)
    stats.direction(scope, f"{source}→{desired}", failed)
