"""Reading Katalog files: bytes from a path or URL, YAML with a line/column mark on every node.

PyYAML's safe loader is extended so that every mapping becomes a `MarkedMap` (a dict that knows
its own mark and the mark of each key) and every sequence a `MarkedSeq`. Marks carry the file
name, so subtrees keep pointing at their source after imports are merged and legacy forms are
rewritten: an error found on the normalised document is located by walking its path (`locate`).
Anchors, aliases and merge keys are standard YAML. Size, depth and alias-expansion limits turn
hostile input into a clear error instead of a hang or a RecursionError.
"""
from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import yaml
import yaml.composer
import yaml.constructor
import yaml.resolver

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
HTTP_TIMEOUT = 10.0


class SourceError(Exception):
    """A file that cannot be read or parsed; `mark` is None when no position is known."""

    def __init__(self, message: str, mark: "Mark | None" = None):
        super().__init__(message)
        self.message = message
        self.mark = mark


class Mark(NamedTuple):
    file: str
    line: int    # 1-based
    col: int     # 1-based


class MarkedMap(dict):
    """A dict that remembers where it and each of its keys were written."""

    mark: Mark | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.key_marks: dict[Any, Mark] = {}


class MarkedSeq(list):
    """A list that remembers where it and each of its items were written."""

    mark: Mark | None = None

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.item_marks: list[Mark | None] = []


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def join_location(base: str, relative: str) -> str:
    """`relative` resolved against the file or URL `base` (absolute paths and URLs stay)."""
    if is_url(relative) or os.path.isabs(relative):
        return relative
    if is_url(base):
        return urllib.parse.urljoin(base, relative)
    return os.path.normpath(os.path.join(os.path.dirname(base) or ".", relative))


def redact_url(location: str) -> str:
    """`location` without `user:password@`: URLs reach messages, logs and tracebacks."""
    if not is_url(location):
        return location
    parts = urllib.parse.urlsplit(location)
    if "@" not in parts.netloc:
        return location
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the unit credentials are bound to. Raises ValueError."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port



class _CredentialsStayHome(urllib.request.HTTPRedirectHandler):
    """Redirects keep `Authorization` only to the same scheme, host and port (urllib copies it)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and origin(newurl) != origin(req.full_url):
            new.headers = {k: v for k, v in new.headers.items() if k.lower() != "authorization"}
        return new


_OPENER = urllib.request.build_opener(_CredentialsStayHome())


def read_source(location: str, *, headers: Mapping[str, str] | None = None) -> str:
    """The text of a local file or an http(s) URL (10 s timeout). Raises SourceError.

    Messages name the URL without userinfo; a URL with userinfo is refused (credentials come
    from `auth.*FromEnv`, docs/security.md).
    """
    if is_url(location):
        shown = redact_url(location)
        if shown != location:
            raise SourceError(f"credentials in a URL are not allowed (use auth.usernameFromEnv/passwordFromEnv "
                              f"with ORK_REGISTRY_* variables): {shown}")
        request = urllib.request.Request(location, headers=dict(headers or {}))
        try:
            with _OPENER.open(request, timeout=HTTP_TIMEOUT) as response:
                data = response.read(MAX_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise SourceError(f"HTTP {exc.code} fetching {shown}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(f"cannot fetch {shown}: {reason}") from None
    else:
        path = Path(location)
        if not path.is_file():
            raise SourceError(f"file not found: {location}")
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise SourceError(f"cannot read {location}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise SourceError(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"file is not UTF-8 text (byte {exc.start})") from None


def _mark(loader: "_MarkedLoader", node: yaml.Node) -> Mark:
    return Mark(loader.source_name, node.start_mark.line + 1, node.start_mark.column + 1)


if getattr(yaml, "__with_libyaml__", False):
    class _MarkedLoader(yaml.composer.Composer, yaml.cyaml.CParser, yaml.constructor.SafeConstructor,
                        yaml.resolver.Resolver):
        """libyaml's scanner and parser (fast) with PyYAML's Python composer: deep nesting then ends
        in a RecursionError we can report, where libyaml's own composer would overflow the C stack."""

        source_name = ""

        def __init__(self, stream: str):
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
else:  # pragma: no cover - PyYAML without libyaml
    class _MarkedLoader(yaml.SafeLoader):  # type: ignore[no-redef]  # the other branch of the same `if`
        source_name = ""


def _flatten_counted(loader: _MarkedLoader, node: yaml.MappingNode) -> None:
    """PyYAML's merge-key flattening, with the pairs it adds counted against MAX_NODES.

    Merge keys copy pairs without aliases, so `check_shape` (which runs after construction) comes
    too late: `<<: [*a, *a]` chains double per line on PyYAML <= 6.0.3, and even with 6.0.4's
    de-duplication a chain of `{<<: *prev, kN: 1}` lines grows quadratically (70 KB took 19 s).
    Nested merges call back into this function, so every flattened map is counted once.
    """
    before = len(node.value)
    yaml.constructor.SafeConstructor.flatten_mapping(loader, node)
    loader.merged_pairs += max(0, len(node.value) - before)
    if loader.merged_pairs > MAX_NODES:
        raise SourceError(f"merge keys (<<) expand the document to more than {MAX_NODES} entries",
                          _mark(loader, node))


_MarkedLoader.merged_pairs = 0
_MarkedLoader.flatten_mapping = _flatten_counted


def _construct_map(loader: _MarkedLoader, node: yaml.MappingNode):
    data = MarkedMap()
    data.mark = _mark(loader, node)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (list, dict)):
            raise SourceError("a mapping key must be a scalar", _mark(loader, key_node))
        if not isinstance(key, str):
            key = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
        data[key] = loader.construct_object(value_node, deep=False)
        data.key_marks[key] = _mark(loader, key_node)


def _construct_seq(loader: _MarkedLoader, node: yaml.SequenceNode):
    data = MarkedSeq()
    data.mark = _mark(loader, node)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=False))
        data.item_marks.append(_mark(loader, item))


_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def parse_yaml(text: str, source_name: str) -> Any:
    """One YAML document with marks. Raises SourceError for syntax, empty and multi-document files."""
    try:
        loader = _MarkedLoader(text)
    except yaml.YAMLError as exc:
        raise SourceError(f"invalid YAML: {exc}") from None
    loader.source_name = source_name
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
            if len(nodes) > 1:
                raise SourceError("the file holds more than one YAML document; one document per file is allowed",
                                  _mark(loader, nodes[1]))
        if not nodes or (isinstance(nodes[0], yaml.ScalarNode) and nodes[0].tag.endswith(":null")):
            raise SourceError("empty file")
        doc = loader.construct_document(nodes[0])
    except SourceError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(source_name, mark.line + 1, mark.column + 1) if mark else None
        text_ = " ".join(p for p in (exc.context, exc.problem) if p)
        raise SourceError(f"invalid YAML: {text_}", where) from None
    except yaml.YAMLError as exc:
        raise SourceError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise SourceError(f"invalid YAML: nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    check_shape(doc, source_name)
    return doc


def check_shape(doc: Any, source_name: str) -> None:
    """Reject documents nested too deep or expanding (through aliases) to too many nodes."""
    stack = [(doc, 0)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise SourceError(f"the document expands to more than {MAX_NODES} nodes (aliases included)")
        if depth > MAX_DEPTH:
            raise SourceError(f"the document nests deeper than {MAX_DEPTH} levels",
                              getattr(node, "mark", None))
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def key_mark(container: Any, key: Any) -> Mark | None:
    """The mark of `container[key]`'s key (maps) or item (lists), else the container's own."""
    if isinstance(container, MarkedMap) and key in container.key_marks:
        return container.key_marks[key]
    if isinstance(container, MarkedSeq) and isinstance(key, int) and 0 <= key < len(container.item_marks):
        return container.item_marks[key] or container.mark
    return getattr(container, "mark", None)


def locate(doc: Any, parts: tuple | list) -> Mark | None:
    """The most precise mark known for a path: the deepest key or item that exists."""
    best = getattr(doc, "mark", None)
    node = doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            best = key_mark(node, part) or best
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            best = key_mark(node, part) or best
            node = node[part]
        else:
            break
    return best


def map_at(container: Mapping, key: str) -> dict:
    """`container[key]` when it is a map, else an empty one (the schema check reports the shape)."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def plain(value: Any) -> Any:
    """A deep copy with plain dicts and lists (for dumping and for the model)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
