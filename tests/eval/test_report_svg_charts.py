"""Inline SVG line charts and grouped bars: well-formed, one mark per value, positions by hand."""

import xml.etree.ElementTree as ET

from avcap.eval.report_svg import svg_grouped_bars, svg_line_chart

NS = "{http://www.w3.org/2000/svg}"


def test_line_chart_scales_points_to_the_plot():
    svg = svg_line_chart({"sft": [(0, 2.0), (50, 1.0), (100, 0.5)], "align <1>": [(0, 1.0)]}, title="loss",
                         width=420, height=200)
    root = ET.fromstring(svg)  # well-formed, names escaped
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 2
    # plot: x from 40 over 270 px (420 - 40 - 110), y from 22 over 148 px (200 - 22 - 30), y max 2.0
    assert lines[0].get("points") == "40.0,22.0 175.0,96.0 310.0,133.0"  # y 2.0 at the top, 0.5 a quarter up
    assert "align &lt;1&gt;" in svg and root.find(f"{NS}text").text == "loss"


def test_grouped_bars_one_rect_per_value_and_none_skipped():
    svg = svg_grouped_bars(["SFT", "r1", "r2"], {"Total": [1.0, 0.8, 0.5], "Miss": [0.5, None, 0.25]},
                           title="held-out")
    root = ET.fromstring(svg)
    bars = [r for r in root.findall(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(bars) == 5
    titles = [b.find(f"{NS}title").text for b in bars]
    assert titles[0] == "SFT Total: 100.0%" and "r2 Miss: 25.0%" in titles
    assert float(bars[0].get("height")) == 148.0  # the largest value fills the plot
    assert float(bars[-1].get("height")) == 37.0
    assert ET.fromstring(svg_grouped_bars([], {}, title="empty")) is not None
