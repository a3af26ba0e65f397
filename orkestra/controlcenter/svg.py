"""Server-side SVG: sparklines, proportion bars and the Katalog dependency graph.

Drawn as inline SVG markup so the pages need no charting library, no script and no inline
style (the Content-Security-Policy forbids it): geometry goes in attributes, colours come from
CSS classes in cc.css. Every piece of text placed in a drawing is escaped here.
"""
from __future__ import annotations

from markupsafe import Markup, escape

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 150, 34, 56, 14, 6


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sparkline(values: list[float], *, label: str, width: int = 160, height: int = 32,
              percent: bool = False) -> Markup:
    """A small line over its shaded area, scaled to its peak; `label` is the accessible title."""
    if len(values) < 2:
        return Markup(f'<span class="spark spark-empty" role="img" aria-label="{escape(label)}: not enough data yet">'
                      f'collecting data…</span>')
    top = max(values) or 1.0
    step = width / (len(values) - 1)
    points = [(i * step, height - 2 - (v / top) * (height - 6)) for i, v in enumerate(values)]
    line = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
    last = values[-1] * 100 if percent else values[-1]
    title = f"{label}: now {_num(last)}{'%' if percent else ''}, peak {_num(top * 100 if percent else top)}" \
            f"{'%' if percent else ''}"
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<polygon class="spark-area" points="0,{height} {line} {width},{height}"/>'
        f'<polyline class="spark-line" points="{line}"/></svg>')


def bar(fraction: float, level: str, *, label: str) -> Markup:
    """A horizontal bar filled to `fraction` (clamped to 0..1), coloured by the `level` class."""
    pct = max(0.0, min(1.0, fraction)) * 100
    return Markup(f'<svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" '
                  f'aria-label="{escape(label)}"><rect class="bar-track" width="100" height="8"/>'
                  f'<rect class="bar-fill {escape(level)}" width="{_num(pct)}" height="8"/></svg>')


def _columns(order: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Column of each node: the length of its longest chain of dependencies (start order kept)."""
    col: dict[str, int] = {}
    deps: dict[str, list[str]] = {}
    for src, dst in edges:
        deps.setdefault(dst, []).append(src)
    for name in order:   # start order lists dependencies first
        col[name] = max((col.get(d, 0) + 1 for d in deps.get(name, ())), default=0)
    return col


def _short(name: str, limit: int = 19) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def dependency_graph(order: list[str], edges: list[tuple[str, str]], states: dict[str, str]) -> Markup:
    """Nodes in start order from left to right, one column per dependency depth, an arrow per
    dependency; each node carries its state class (degraded nodes are drawn red by cc.css)."""
    if not order:
        return Markup('<p class="muted">This Katalog declares no CRDs.</p>')
    col = _columns(order, edges)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[float, float]] = {}
    for name in order:
        c = col[name]
        r = rows.get(c, 0)
        rows[c] = r + 1
        pos[name] = (PAD + c * (NODE_W + GAP_X), PAD + r * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(col.values()) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max(rows.values()) * (NODE_H + GAP_Y) - GAP_Y
    parts = [f'<svg class="depgraph" viewBox="0 0 {width} {height}" width="{width}" role="img" '
             f'aria-label="dependency graph"><defs><marker id="cc-arrow" viewBox="0 0 8 8" refX="7" refY="4" '
             f'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" class="edge-head"/>'
             f'</marker></defs>']
    for src, dst in edges:
        if src not in pos or dst not in pos:
            continue
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        x1, y1, y2 = x1 + NODE_W, y1 + NODE_H / 2, y2 + NODE_H / 2
        mid = (x1 + x2) / 2
        parts.append(f'<path class="edge" d="M{_num(x1)},{_num(y1)} C{_num(mid)},{_num(y1)} {_num(mid)},{_num(y2)} '
                     f'{_num(x2 - 2)},{_num(y2)}" marker-end="url(#cc-arrow)"/>')
    for name in order:
        x, y = pos[name]
        state = states.get(name, "not started")
        css = "node state-" + state.replace(" ", "-")
        parts.append(f'<g class="{escape(css)}"><title>{escape(name)}: {escape(state)}</title>'
                     f'<rect x="{_num(x)}" y="{_num(y)}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
                     f'<text x="{_num(x + 12)}" y="{_num(y + NODE_H / 2 + 4.5)}">{escape(_short(name))}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
