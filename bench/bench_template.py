"""Benchmark: Orkestra's Go-template engine against Jinja2 and str.format on the same work.

What it measures, for N templates of the shapes a Katalog really uses (child names, image
references with defaults, labels, conditionals, ranges over env maps, printf, arithmetic):

1. parse: compiling N *distinct* sources (the memo cache is cleared first, and every source gets a
   unique suffix so nothing is cached), against `jinja2.Environment.from_string` on equivalent
   Jinja sources;
2. render: rendering the compiled templates N times in total against one realistic CR, against
   the compiled Jinja equivalents, and, for the shapes that are plain substitutions, against
   `str.format` with the values looked up by hand (the floor for "just substitute").

Every engine's output is checked equal to ours before timing, so the peers do the same work.
Prints ops/s per engine and the ratio ours/peer (above 1 means we are faster).

Run from the repository root:
    .venv/bin/python bench/bench_template.py            # N = 10000
    .venv/bin/python bench/bench_template.py -n 50000 --repeat 5
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import jinja2

from orkestra.template import compile_template
from orkestra.template.compiled import compile_template as _memoised

CR = {
    "apiVersion": "example.com/v1",
    "kind": "Website",
    "metadata": {"name": "shop", "namespace": "team-a", "uid": "0c6f-4b1e", "generation": 4,
                 "labels": {"app": "shop", "tier": "frontend"}},
    "spec": {"image": "nginx", "tag": "", "replicas": 3, "port": 8080, "tls": True,
             "host": "shop.example.com",
             "env": {"LOG_LEVEL": "info", "REGION": "eu-west-1", "WORKERS": "4"},
             "regions": [{"name": "eu", "endpoint": "eu.example.com"},
                         {"name": "us", "endpoint": "us.example.com"}]},
    "status": {"phase": "Ready"},
}

# (orkestra source, jinja source, str.format source with its argument builder or None)
SHAPES: list[tuple[str, str, tuple[str, Callable[[dict], dict]] | None]] = [
    ("{{ .metadata.name }}-deployment{S}",
     "{{ metadata.name }}-deployment{S}",
     ("{name}-deployment{S}", lambda cr: {"name": cr["metadata"]["name"]})),
    ('{{ .spec.image }}:{{ .spec.tag | default "latest" }}{S}',
     '{{ spec.image }}:{{ spec.tag | default("latest", true) }}{S}',
     ("{image}:{tag}{S}", lambda cr: {"image": cr["spec"]["image"], "tag": cr["spec"]["tag"] or "latest"})),
    ("{{ .metadata.namespace }}/{{ .metadata.name }}.{{ .kind | lower }}{S}",
     "{{ metadata.namespace }}/{{ metadata.name }}.{{ kind | lower }}{S}",
     ("{ns}/{name}.{kind}{S}", lambda cr: {"ns": cr["metadata"]["namespace"], "name": cr["metadata"]["name"],
                                           "kind": cr["kind"].lower()})),
    ("{{ if .spec.tls }}https{{ else }}http{{ end }}://{{ .spec.host }}:{{ .spec.port }}{S}",
     "{% if spec.tls %}https{% else %}http{% endif %}://{{ spec.host }}:{{ spec.port }}{S}",
     None),
    ('{{ range $k, $v := .spec.env }}{{ $k }}={{ $v }};{{ end }}{S}',
     "{% for k, v in spec.env | dictsort %}{{ k }}={{ v }};{% endfor %}{S}",
     None),
    ('{{ printf "%s-%d" .metadata.name .spec.replicas }}{S}',
     '{{ "%s-%d" | format(metadata.name, spec.replicas) }}{S}',
     ("{name}-{replicas}{S}", lambda cr: {"name": cr["metadata"]["name"], "replicas": cr["spec"]["replicas"]})),
    ("{{ mul .spec.replicas 2 }}{S}",
     "{{ spec.replicas * 2 }}{S}",
     ("{doubled}{S}", lambda cr: {"doubled": cr["spec"]["replicas"] * 2})),
    ("{{ range .spec.regions }}{{ .name }}={{ .endpoint }} {{ end }}{S}",
     "{% for r in spec.regions %}{{ r.name }}={{ r.endpoint }} {% endfor %}{S}",
     None),
    ('{{ if eq .status.phase "Ready" "Running" }}up{{ else }}down{{ end }}{S}',
     '{% if status.phase in ("Ready", "Running") %}up{% else %}down{% endif %}{S}',
     None),
]


def sources(n: int) -> list[tuple[str, str, tuple[str, Callable[[dict], dict]] | None]]:
    """N distinct sources cycling through SHAPES (a unique suffix defeats every cache)."""
    out = []
    for i in range(n):
        ork, jin, fmt = SHAPES[i % len(SHAPES)]
        suffix = f"#{i}"
        fmt_i = (fmt[0].replace("{S}", suffix), fmt[1]) if fmt else None
        out.append((ork.replace("{S}", suffix), jin.replace("{S}", suffix), fmt_i))
    return out


def best_times(repeat: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best wall time of each run. Runs alternate, so a load spike on this shared machine hits
    every engine alike instead of skewing the ratio."""
    best = {name: float("inf") for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def report(label: str, n: int, times: dict[str, float]) -> None:
    ours = times.pop("orkestra")
    print(f"{label}: {n} ops")
    print(f"  {'orkestra':<12} {n / ours:>12,.0f} ops/s")
    for name, seconds in times.items():
        print(f"  {name:<12} {n / seconds:>12,.0f} ops/s   ratio orkestra/{name} = {seconds / ours:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="templates to parse and renders to do")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    args = parser.parse_args()
    n = args.n
    items = sources(n)
    env = jinja2.Environment(autoescape=False)

    def parse_ours() -> None:
        _memoised.cache_clear()
        for ork, _, _ in items:
            compile_template(ork)

    def parse_jinja() -> None:
        for _, jin, _ in items:
            env.from_string(jin)

    report("parse + compile (distinct sources)", n,
           best_times(args.repeat, {"orkestra": parse_ours, "jinja2": parse_jinja}))

    ours = [compile_template(ork) for ork, _, _ in items]
    jinjas = [env.from_string(jin) for _, jin, _ in items]
    formats = [(i, fmt) for i, (_, _, fmt) in enumerate(items) if fmt]
    for t, j in zip(ours, jinjas):
        assert t.render(CR) == j.render(CR), (t.source, t.render(CR), j.render(CR))
    for i, (fmt, build) in formats:
        assert ours[i].render(CR) == fmt.format(**build(CR)), ours[i].source

    def render_ours() -> None:
        for t in ours:
            t.render(CR)

    def render_jinja() -> None:
        for j in jinjas:
            j.render(CR)

    report("render (all shapes)", n,
           best_times(args.repeat, {"orkestra": render_ours, "jinja2": render_jinja}))

    subst = [ours[i] for i, _ in formats]

    def render_ours_subst() -> None:
        for t in subst:
            t.render(CR)

    def render_format() -> None:
        for _, (fmt, build) in formats:
            fmt.format(**build(CR))

    report("render (substitution shapes only)", len(subst),
           best_times(args.repeat, {"orkestra": render_ours_subst, "str.format": render_format}))


if __name__ == "__main__":
    main()
