"""Benchmark (not a test): loading a generated 100-CRD Katalog, beside a peer measured in the same run.

Ours: `load_katalog` — marked YAML, legacy normalisation, strict jsonschema, every semantic check
(templates compiled, conditions checked, dependencies, RBAC-relevant enrichment) and the model.
Peer: `yaml.safe_load` of the same text plus one `jsonschema` validation of the document against
the same schema, i.e. the least a loader can do. The ratio is the cost of everything else.
Also renders 10,000 templates from the loaded Katalog (the reconcile-time cost of templating).

Run: .venv/bin/python bench/bench_katalog.py [--crds 100] [--repeat 20]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from orkestra.katalog.loader import load_katalog
from orkestra.katalog.schema import KATALOG
from orkestra.template import compile_template

ENTRY = """\
    app{i}:
      description: generated entry {i}
      apiTypes: {{group: bench{g}.example.io, version: v1, kind: App{i}, plural: app{i}s}}
      dependsOn: [{dep}]
      labels: {{team: "{{{{ .spec.team | default \\"core\\" }}}}"}}
      validation:
        rules:
          - {{field: spec.image, prefix: "registry.internal/", message: "images must come from registry.internal/"}}
          - {{field: spec.replicas, between: "1,20", message: "replicas must be between 1 and 20"}}
      mutation:
        rules:
          - {{field: spec.replicas, default: 2}}
      operatorBox:
        reconciler: {{workers: 2, resync: 30s, queue: {{maxDepth: 50}}}}
        onReconcile:
          configMaps:
            - data: {{THEME: "{{{{ .spec.theme | default \\"minimal\\" }}}}", N: "{{{{ add 1 {i} }}}}"}}
          deployments:
            - image: "{{{{ .spec.image }}}}"
              replicas: "{{{{ .spec.replicas | default 1 }}}}"
              port: 8080
              env: {{MODE: "{{{{ upper .spec.mode }}}}"}}
              when: [{{field: spec.enabled, equals: "true"}}]
          services:
            - port: 80
              targetPort: 8080
        status:
          fields:
            - {{path: phase, value: Running, when: [{{field: spec.paused, notExists: true}}]}}
            - {{path: replicas, type: int, value: "{{{{ .spec.replicas }}}}"}}
"""


def generate(n: int) -> str:
    head = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: bench, version: 1.0.0}\nspec:\n  crds:\n"
    entries = []
    for i in range(n):
        dep = f"app{i - 1}" if i % 10 else ""
        entries.append(ENTRY.format(i=i, g=i % 7, dep=dep))
    return head + "".join(entries)


def timed(fn, repeat: int) -> list[float]:
    return interleaved([fn], repeat)[0]


def interleaved(fns: list, repeat: int) -> list[list[float]]:
    """Round-robin timing, so a busy machine slows every contender alike."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            out[i].append(time.perf_counter() - start)
    return out


def show(label: str, samples: list[float]) -> float:
    med = statistics.median(samples)
    print(f"  {label:<46} median {med * 1000:8.1f} ms   min {min(samples) * 1000:8.1f} ms   (n={len(samples)})")
    return med


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crds", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    text = generate(args.crds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "katalog.yaml"
        path.write_text(text)
        katalog = load_katalog([str(path)])                 # warm-up and sanity check
        assert len(katalog.crds) == args.crds
        validator = Draft202012Validator(KATALOG)

        def peer_pure() -> None:
            validator.validate(yaml.safe_load(path.read_text()))

        def peer_c() -> None:
            validator.validate(yaml.load(path.read_text(), Loader=yaml.CSafeLoader))

        print(f"Katalog: {args.crds} CRDs, {len(text) / 1024:.0f} KiB of YAML")
        runs = interleaved([lambda: load_katalog([str(path)]), peer_pure, peer_c], args.repeat)
        ours = show("ork load_katalog (full pipeline)", runs[0])
        pure = show("peer: yaml.safe_load + jsonschema validate", runs[1])
        cfast = show("peer: yaml CSafeLoader + jsonschema validate", runs[2])
        print(f"  overhead ratio: {ours / pure:.2f}x the pure-Python peer, {ours / cfast:.2f}x the libyaml peer")

    sources = [s for e in katalog.crds.values() for tpls in e.box_spec.templates["onReconcile"].values()
               for t in tpls for s in _strings(t) if "{{" in s]
    data = {"metadata": {"name": "demo"}, "spec": {"image": "registry.internal/app:1", "replicas": 3,
                                                   "mode": "fast", "theme": "dark", "team": "a"}}
    compiled = [compile_template(s) for s in sources]
    count = 10_000

    def render() -> None:
        for k in range(count):
            compiled[k % len(compiled)].render_value(data)
    show(f"render {count} templates ({len(compiled)} distinct)", timed(render, max(3, args.repeat // 4)))


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


if __name__ == "__main__":
    main()
