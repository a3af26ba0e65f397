"""Validation (docs/katalog.md#validation) and mutation (§12) rules, as pure functions of a CR.

The same evaluation serves three callers: the reconciler (which turns denials into a
`ValidationDenied` failure and applies the mutation patch), the admission webhooks (which turn
them into AdmissionReview answers, docs/webhooks.md §5) and `ork gate` (which prints every rule).
So nothing here does I/O or decides what a result means for a request: it returns values.

Rules are compiled once (`compile_validation`, `compile_mutation`); the convenience entry points
`evaluate_validation` / `compute_mutation` accept the canonical rule dicts and memoise the
compiled form by content. The same parsers produce the Katalog loader's messages
(`check_validation_rules`, `check_mutation_rules`), so a rule that loads always compiles.

* A validation rule *fires* when its condition is false. Every rule is evaluated (no fail-fast);
  an evaluation error is collected for that rule and never raised. `unique` rules without a
  lookup (or on DELETE) are reported as skipped.
* Mutation rules run in order against a progressively mutated deep copy, made at the first
  write: with no change, `MutationOutcome.obj` is the input itself (read it, never modify it,
  since the input may be an informer's cached object). Each change becomes
  one RFC 6902 operation: `replace` for a field that exists (a null counts as existing), `add`
  of a nested object at the highest missing ancestor otherwise. Applying the patch in order to
  the original object yields `MutationOutcome.obj`.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field as dc_field
from typing import Any, NamedTuple

from orkestra.conditions import (
    MISSING, Clock, ConditionError, ConditionSet, FieldCondition, UniqueLookup, compile_condition,
    compile_conditions, lookup, parse_path, stringify,
)
from orkestra.conditions.operators import SHORTHANDS
from orkestra.conditions.paths import PathError, Segment, json_pointer, step
from orkestra.conditions.values import UNPARSEABLE, parse_typed
from orkestra.errors import OrkestraError
from orkestra.template import Template, TemplateSyntaxError, compile_template, is_template
from orkestra.template.values import describe, kind_of

ACTIONS = ("deny", "warn")
MUTATION_VALUE_TYPES = ("auto", "string", "int", "float", "bool")
_VALIDATION_RULE_KEYS = frozenset({"message", "action", "when", "anyOf"})
_MUTATION_KEYS = frozenset({"field", "default", "override", "valueType", "when", "anyOf"})


class RuleError(OrkestraError):
    """Rules that do not compile; `problems` are `"<path>: <message>"` lines."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class MutationError(OrkestraError):
    """A mutation rule that could not be applied (a template error or a path that cannot be set)."""


def _gates(rule: dict, where: str, problems: list[str]) -> ConditionSet:
    try:
        return compile_conditions(rule.get("when"), rule.get("anyOf"))
    except ConditionError as exc:
        problems.extend(exc.lines(where))
        return ConditionSet()


def _template(source: Any, where: str, problems: list[str]) -> Template | None:
    if not isinstance(source, str) or not is_template(source):
        return None
    try:
        return compile_template(source)
    except TemplateSyntaxError as exc:
        problems.append(f"{where}: invalid template: {exc}")
        return None


def _each(rules: Any, path: str, problems: list[str]) -> list[tuple[int, Any, str]]:
    if rules is None:
        return []
    if not isinstance(rules, list):
        problems.append(f"{path}: must be a list of rules")
        return []
    return [(i, rule, f"{path}[{i}]") for i, rule in enumerate(rules)]


def _is_rule(rule: Any, where: str, problems: list[str]) -> bool:
    if not isinstance(rule, dict):
        problems.append(f"{where}: a rule must be a map with field and an operator")
    return isinstance(rule, dict)


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class Violation:
    field: str
    message: str
    value: str
    action: str                        # deny | warn

    @property
    def text(self) -> str:
        """`field "<field>": <message> (got: "<value>")`, without `(got: …)` for an empty value."""
        return self.summary + (f' (got: "{self.value}")' if self.value else "")

    @property
    def summary(self) -> str:
        """`field "<field>": <message>` (admission warnings leave the value out)."""
        return f'field "{self.field}": {self.message}'


@dataclass(frozen=True)
class RuleResult:
    index: int
    field: str
    status: str                        # passed | denied | warned | skipped | error
    message: str                       # rendered message (the reason for skipped / error)
    value: str = ""


@dataclass
class ValidationOutcome:
    denials: list[Violation] = dc_field(default_factory=list)
    warnings: list[Violation] = dc_field(default_factory=list)
    errors: list[tuple[str, str]] = dc_field(default_factory=list)   # (field, reason)
    evaluated: list[RuleResult] = dc_field(default_factory=list)     # gated-out rules absent

    @property
    def allowed(self) -> bool:
        return not self.denials


@dataclass(frozen=True)
class ValidationRule:
    index: int
    field: str
    condition: FieldCondition
    message: str                        # source; a template when it contains `{{`
    message_template: Template | None
    action: str
    gates: ConditionSet

    def render_message(self, obj: dict) -> str:
        return self.message_template.render(obj) if self.message_template else self.message


def _default_message(rule: dict) -> str:
    """`must satisfy max: 20` from the condition as written, for rules without a message."""
    if "operator" in rule:
        value = f" {stringify(rule['value'])}" if "value" in rule else ""
        return f"must satisfy {stringify(rule['operator'])}{value}"
    key = next((k for k in rule if k in SHORTHANDS), "")
    return f"must satisfy {key}: {stringify(rule.get(key))}"


def _parse_validation_rule(index: int, rule: Any, where: str, problems: list[str]) -> ValidationRule | None:
    if not _is_rule(rule, where, problems):
        return None
    before = len(problems)
    if "field" not in rule:
        problems.append(f"{where}.field: is required (the path or template the rule checks)")
    condition_keys = {k: v for k, v in rule.items() if k not in _VALIDATION_RULE_KEYS}
    condition = None
    try:
        condition = compile_condition(condition_keys)
    except ConditionError as exc:
        if "field" in rule:
            problems.extend(exc.lines(where))
    action = rule.get("action", "deny")
    if action not in ACTIONS:
        problems.append(f'{where}.action: must be deny or warn, got "{stringify(action)}"')
    message = rule["message"] if "message" in rule else _default_message(rule)
    if not isinstance(message, str):
        problems.append(f"{where}.message: must be a string")
    message_template = _template(message, f"{where}.message", problems)
    gates = _gates(rule, where, problems)
    if len(problems) > before or not isinstance(condition, FieldCondition):
        return None
    return ValidationRule(index, condition.field, condition, message, message_template, action, gates)


def check_validation_rules(rules: Any, path: str) -> list[str]:
    """Load-time problems of `validation.rules`, one `"<path>[i].<key>: <message>"` line each."""
    problems: list[str] = []
    for index, rule, where in _each(rules, path, problems):
        _parse_validation_rule(index, rule, where, problems)
    return problems


def compile_validation(rules: list[dict] | None) -> tuple[ValidationRule, ...]:
    """Compiled rules; raises `RuleError` listing every problem."""
    problems: list[str] = []
    compiled = [_parse_validation_rule(i, rule, where, problems) for i, rule, where in _each(rules, "rules", problems)]
    if problems:
        raise RuleError(problems)
    return tuple(r for r in compiled if r is not None)


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def validate(rules: tuple[ValidationRule, ...], obj: dict, *, unique: UniqueLookup | None = None,
             operation: str | None = None, clock: Clock | None = None) -> ValidationOutcome:
    """Evaluate compiled rules against `obj`. `unique=None` (no cache) and DELETE skip `unique` rules."""
    outcome = ValidationOutcome()
    for rule in rules:
        try:
            if rule.gates and not rule.gates.evaluate(obj, clock=clock, unique=unique):
                continue
            if rule.condition.operator == "unique" and (unique is None or operation == "DELETE"):
                outcome.evaluated.append(RuleResult(rule.index, rule.field, "skipped", "unique: skipped"))
                continue
            holds, value = rule.condition.verdict(obj, clock=clock, unique=unique)
            message = rule.render_message(obj)
        except Exception as exc:   # the contract: a rule that cannot be evaluated never fires
            outcome.errors.append((rule.field, _reason(exc)))
            outcome.evaluated.append(RuleResult(rule.index, rule.field, "error", _reason(exc)))
            continue
        if value and obj.get("kind") == "Secret":   # a Secret's values are described, never quoted (docs/security.md)
            value = describe(value)
        if holds:
            outcome.evaluated.append(RuleResult(rule.index, rule.field, "passed", message, value))
            continue
        violation = Violation(rule.field, message, value, rule.action)
        (outcome.denials if rule.action == "deny" else outcome.warnings).append(violation)
        status = "denied" if rule.action == "deny" else "warned"
        outcome.evaluated.append(RuleResult(rule.index, rule.field, status, message, value))
    return outcome


_CACHE_LIMIT = 256
_compiled_by_content: dict[str, tuple] = {}


def _by_content(rules: list[dict] | None, compile_rules: Callable[[Any], tuple]) -> tuple:
    """Compiled rules memoised by their JSON text (the canonical dicts are rebuilt per reload)."""
    key = compile_rules.__name__ + json.dumps(rules, default=repr)
    compiled = _compiled_by_content.get(key)
    if compiled is None:
        if len(_compiled_by_content) >= _CACHE_LIMIT:
            _compiled_by_content.clear()
        compiled = _compiled_by_content[key] = compile_rules(rules)
    return compiled


def evaluate_validation(rules: list[dict] | None, obj: dict, *, unique: UniqueLookup | None = None,
                        operation: str | None = None, clock: Clock | None = None) -> ValidationOutcome:
    """Compile (memoised by content) and evaluate canonical `validation.rules` against `obj`.

    Never raises: rules that do not compile (which the Katalog loader should have rejected) are
    reported in `.errors` under the field `validation.rules`, and nothing is denied for them.
    """
    try:
        compiled = _by_content(rules, compile_validation)
    except RuleError as exc:
        return ValidationOutcome(errors=[("validation.rules", problem) for problem in exc.problems])
    return validate(compiled, obj, unique=unique, operation=operation, clock=clock)


# ---------------------------------------------------------------- mutation


class AppliedChange(NamedTuple):
    path: str                          # the rule's dot path
    old: Any                           # MISSING when the field was absent
    new: Any
    kind: str                          # default | override


@dataclass
class MutationOutcome:
    patch: list[dict]
    obj: dict
    applied: list[AppliedChange]

    @property
    def message(self) -> str:
        """The MutationApplied event text: `defaults applied: spec.replicas=2, metadata.labels.tier=web`."""
        return "defaults applied: " + ", ".join(f"{c.path}={stringify(c.new)}" for c in self.applied)


@dataclass(frozen=True)
class MutationRule:
    index: int
    field: str
    segments: tuple[Segment, ...]
    kind: str                          # default | override
    value: Any                         # literal (already converted to a forced type)
    template: Template | None
    value_type: str
    gates: ConditionSet

    def produce(self, obj: dict) -> Any:
        """The value to write, or MISSING when a template renders nil or ""."""
        if self.template is None:
            return self.value
        rendered = (self.template.render(obj) if self.value_type == "string"
                    else self.template.render_value(obj))
        if rendered is None or rendered == "":
            return MISSING
        return rendered if self.value_type in ("auto", "string") else _convert(rendered, self.value_type)


def _convert(value: Any, value_type: str) -> Any:
    if value_type == "string":
        return stringify(value)
    parsed = parse_typed(stringify(value), value_type)
    if parsed is UNPARSEABLE:
        raise ValueError(f'"{stringify(value)}" is not a valid {value_type}')
    return parsed


def _parse_mutation_rule(index: int, rule: Any, where: str, problems: list[str]) -> MutationRule | None:
    if not _is_rule(rule, where, problems):
        return None
    before = len(problems)
    for key in sorted(set(rule) - _MUTATION_KEYS, key=str):
        problems.append(f'{where}.{key}: unknown key (allowed: {", ".join(sorted(_MUTATION_KEYS))})')
    field = rule.get("field")
    segments: tuple[Segment, ...] = ()
    if not isinstance(field, str) or not field.strip():
        problems.append(f"{where}.field: is required (a dot path)")
    elif is_template(field):
        problems.append(f"{where}.field: must be a dot path, not a template")
    else:
        try:
            segments = parse_path(field)
        except PathError as exc:
            problems.append(f"{where}.field: {exc}")
        if segments and segments[0].key == "status":
            problems.append(f"{where}.field: cannot mutate status (the API server ignores status in writes to the main resource)")
    kinds = [k for k in ("default", "override") if k in rule]
    if len(kinds) != 1:
        problems.append(f"{where}: needs exactly one of default or override" + (", not both" if kinds else ""))
    value_type = rule.get("valueType", "auto")
    if value_type not in MUTATION_VALUE_TYPES:
        problems.append(f'{where}.valueType: unknown valueType "{stringify(value_type)}" (expected auto, string, int, float or bool)')
    kind, value = (kinds[0], rule[kinds[0]]) if len(kinds) == 1 else ("", None)
    template: Template | None = None
    if kind:
        template = _template(value, f"{where}.{kind}", problems)
        literal = not (isinstance(value, str) and is_template(value))
        if literal and value_type in MUTATION_VALUE_TYPES and value_type != "auto":
            try:
                value = _convert(value, value_type)
            except ValueError as exc:
                problems.append(f"{where}.{kind}: {exc}")
    gates = _gates(rule, where, problems)
    if len(problems) > before:
        return None
    return MutationRule(index, field, segments, kind, value, template, value_type, gates)


def check_mutation_rules(rules: Any, path: str) -> list[str]:
    """Load-time problems of `mutation.rules`, one `"<path>[i].<key>: <message>"` line each."""
    problems: list[str] = []
    for index, rule, where in _each(rules, path, problems):
        _parse_mutation_rule(index, rule, where, problems)
    return problems


def compile_mutation(rules: list[dict] | None) -> tuple[MutationRule, ...]:
    """Compiled rules; raises `RuleError` listing every problem."""
    problems: list[str] = []
    compiled = [_parse_mutation_rule(i, rule, where, problems) for i, rule, where in _each(rules, "rules", problems)]
    if problems:
        raise RuleError(problems)
    return tuple(r for r in compiled if r is not None)


def _same(a: Any, b: Any) -> bool:
    return kind_of(a) == kind_of(b) and a == b


def _nest(value: Any, segments: tuple[Segment, ...]) -> Any:
    for segment in reversed(segments):
        value = {segment.key: value}
    return value


def _assign(parent: Any, segment: Segment, value: Any) -> None:
    index = segment.index
    if isinstance(parent, list) and index is not None:     # `step` found the item: an index
        parent[index] = value
    else:
        parent[segment.key] = value


def _write(obj: dict, segments: tuple[Segment, ...], value: Any, field: str) -> dict:
    """Set the value in `obj` and return the one JSON Patch operation that does the same."""
    parent: Any = obj
    for i, segment in enumerate(segments):
        here = segments[: i + 1]
        child = step(parent, segment)
        if child is MISSING:
            if not isinstance(parent, dict):
                where = json_pointer(segments[:i]) or "/"
                what = "has no item" if isinstance(parent, list) else f"is a {kind_of(parent)}"
                raise MutationError(f'cannot set "{field}": {where} {what} at "{segment.key}"')
            nested = _nest(value, segments[i + 1:])
            parent[segment.key] = nested
            return {"op": "add", "path": json_pointer(here), "value": copy.deepcopy(nested)}
        if i == len(segments) - 1 or child is None:
            nested = _nest(value, segments[i + 1:])
            _assign(parent, segment, nested)
            return {"op": "replace", "path": json_pointer(here), "value": copy.deepcopy(nested)}
        parent = child
    raise MutationError(f'cannot set "{field}": empty path')


def mutate(rules: tuple[MutationRule, ...], obj: dict, *, clock: Clock | None = None) -> MutationOutcome:
    """Apply compiled rules in order to a deep copy of `obj`; raises `MutationError` naming the rule.

    The copy is made at the first write, so a mutation that changes nothing (the object a validating
    webhook gets after the mutating one ran) copies nothing and returns `obj` itself as `.obj`:
    callers only read `.obj`. Rules before the first write read `obj`; templates and conditions
    never modify what they read."""
    work = obj
    patch: list[dict] = []
    applied: list[AppliedChange] = []
    for rule in rules:
        try:
            if rule.gates and not rule.gates.evaluate(work, clock=clock):
                continue
            current = lookup(work, rule.segments)
            if rule.kind == "default" and current not in (MISSING, None, ""):
                continue
            value = rule.produce(work)
        except MutationError:
            raise
        except Exception as exc:   # template errors and bad conversions, reported per rule
            raise MutationError(f'mutation rule on "{rule.field}": {_reason(exc)}') from exc
        if value is MISSING or (current is not MISSING and _same(current, value)):
            continue
        if work is obj:
            work = copy.deepcopy(obj)
        patch.append(_write(work, rule.segments, copy.deepcopy(value), rule.field))
        applied.append(AppliedChange(rule.field, current, value, rule.kind))
    return MutationOutcome(patch, work, applied)


def compute_mutation(rules: list[dict] | None, obj: dict, *, clock: Clock | None = None) -> MutationOutcome:
    """Compile (memoised by content) and apply canonical `mutation.rules` as `mutate` does (`obj` untouched).

    Raises only `MutationError` (rules that do not compile included).
    """
    try:
        compiled = _by_content(rules, compile_mutation)
    except RuleError as exc:
        raise MutationError(f"invalid mutation rules: {exc}") from None
    return mutate(compiled, obj, clock=clock)
