"""Server-side drawings: sparklines, bars and the dependency graph (geometry and escaping)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from orkestra.controlcenter.svg import bar, dependency_graph, sparkline

NS = "{http://www.w3.org/2000/svg}"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_a_sparkline_scales_to_its_peak():
    svg = _parse(sparkline([0, 5, 10], label="reconciles per second", width=100, height=32))
    points = [tuple(map(float, p.split(","))) for p in svg.find(f"{NS}polyline").get("points").split()]
    assert [x for x, _ in points] == [0, 50, 100]
    assert points[2][1] < points[1][1] < points[0][1] == 30     # higher values are drawn higher
    assert svg.find(f"{NS}title").text == "reconciles per second: now 10, peak 10"


def test_a_sparkline_without_enough_data_says_so():
    markup = sparkline([3], label="queue depth")
    assert "spark-empty" in markup and "not enough data yet" in markup and "collecting data" in markup
    assert "<svg" not in markup


def test_percent_sparklines_caption_in_percent():
    assert "now 25%, peak 50%" in sparkline([0.5, 0.25], label="error rate", percent=True)


def test_bars_are_clamped_and_labels_escaped():
    assert 'width="100"' in bar(3.0, "level-high", label="x").split("bar-fill")[1]
    assert 'width="0"' in bar(-1, "level-low", label="x").split("bar-fill")[1]
    assert "&lt;script&gt;" in bar(0.5, "level-low", label="<script>")


def test_dependency_graph_columns_follow_the_start_order_and_degraded_nodes_are_marked():
    svg = _parse(dependency_graph(["db", "cache", "app", "web"], [("db", "app"), ("cache", "app"), ("app", "web")],
                                  {"db": "healthy", "cache": "healthy", "app": "degraded", "web": "pending"}))
    rects = {g.find(f"{NS}text").text: float(g.find(f"{NS}rect").get("x")) for g in svg.iter(f"{NS}g")}
    assert rects["db"] == rects["cache"] < rects["app"] < rects["web"]
    classes = {g.find(f"{NS}text").text: g.get("class") for g in svg.iter(f"{NS}g")}
    assert classes["app"] == "node state-degraded" and classes["web"] == "node state-pending"
    assert len(svg.findall(f"{NS}path")) == 3          # one edge per dependency (the arrow head is in defs)


def test_dependency_graph_escapes_names_and_shortens_long_ones():
    markup = dependency_graph(["<script>alert(1)</script>", "a-very-long-crd-name-indeed"], [], {})
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert re.search(r">a-very-long-crd-na…<", markup)


def test_an_empty_katalog_draws_no_graph():
    assert "declares no CRDs" in dependency_graph([], [], {})
