"""The HTML reports open in a real browser (headless Chromium) with no JavaScript error and
every chart drawn; they need no network (plotly's JavaScript is inlined)."""

from __future__ import annotations

import re

import pytest

from aigap.browser import Browser, chromium
from aigap.cli import main
from aigap.report import _PROBE

needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="Chromium is not installed here (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    made = {
        "screen": ["report", "screen", "--as-of", "2026-07-01"],
        "discount": ["report", "discount", "--start", "2023-01-01"],
        "pairs": ["report", "pairs", "--pair", "BABA:AMZN", "--lookback", "20,60", "--entry",
                  "1.5,2", "--start", "2022-01-01"],
    }  # fmt: skip
    out = {}
    for name, args in made.items():
        path = d / f"{name}.html"
        assert main([*args, "--out", str(path)]) == 0
        out[name] = path
    return out


def test_reports_are_self_contained(reports):
    for path in reports.values():
        text = path.read_text()
        # no external script, style or font: plotly.js is inlined (its source names its CDN
        # in strings, for map data these reports never load)
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", text)
        assert "plotly.js v" in text or "plotly.js" in text
        assert "Inputs" in text and "data end (last US trading day)" in text


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module's pages: each loads in its tab as a user opens it."""
    with Browser() as b:
        yield b


@needs_chromium
@pytest.mark.parametrize("name,charts", [("screen", 3), ("discount", 8), ("pairs", 6)])
def test_each_report_loads_with_every_chart_drawn(reports, browser, name, charts):
    page = browser.load(reports[name])
    assert page.errors == []
    assert page.charts == charts and page.drawn == charts


def _probe_page(charts: int, extra: str = "") -> str:
    """A page with the reports' probe and ``charts`` charts as plotly leaves them drawn (a
    ``.main-svg`` inside a ``.js-plotly-plot``), without plotly.js: the probe's checks load in
    milliseconds instead of parsing 3.5 MB of JavaScript per page."""
    drawn = "<div class='js-plotly-plot'><svg class='main-svg'></svg></div>" * charts
    return f"<!DOCTYPE html><html><head>{_PROBE}</head><body>{drawn}{extra}</body></html>"


@needs_chromium
def test_the_probe_sees_a_javascript_error(tmp_path, browser):
    """The check can fail: a page with a broken script reports it."""
    broken = tmp_path / "broken.html"
    broken.write_text(_probe_page(3, "<script>nope(</script><script>undefinedCall()</script>"))
    page = browser.load(broken)
    assert len(page.errors) == 2 and "undefinedCall" in page.errors[1] and page.drawn == 3
    bare = tmp_path / "bare.html"  # a page without the probe is not taken as clean
    bare.write_text("<html><body><p>no probe</p></body></html>")
    assert browser.load(bare).errors == ["the probe did not run"]


@needs_chromium
def test_pages_that_misbehave_are_reported_not_waited_for(tmp_path, browser):
    """Each result belongs to its own navigation: a page that reloads itself after its load
    does not answer for the next one; a page the probe cannot read, a missing file and an
    alert() are results, not hangs, and the browser goes on with the next page."""
    pages = {
        "reloads.html": "<html><body><script>window.onload = function () {"
        " setTimeout(function () { location.reload(); }, 50); };</script></body></html>",
        "alert.html": _probe_page(3, "<script>alert('hi')</script>"),
        "no-body.svg": '<svg xmlns="http://www.w3.org/2000/svg"></svg>',
        "next.html": _probe_page(2),
    }
    for name, text in pages.items():
        (tmp_path / name).write_text(text)
    assert browser.load(tmp_path / "reloads.html").errors == ["the probe did not run"]
    page = browser.load(tmp_path / "next.html")  # the reload's events are not this page's
    assert page.errors == [] and page.drawn == 2
    assert browser.load(tmp_path / "alert.html").drawn == 3
    assert (
        browser.load(tmp_path / "no-body.svg").errors[0].startswith("the probe could not be read")
    )
    assert browser.load(tmp_path / "missing.html").errors[0].startswith("the page did not load")
    assert browser.load(tmp_path / "next.html").drawn == 2


@needs_chromium
def test_closing_twice_closes_nothing_of_anyone_elses(tmp_path):
    b = Browser(timeout=30)
    b.close()
    with open(tmp_path / "other", "w") as other:  # may reuse the closed descriptors
        b.close()
        other.write("still open")
    assert (tmp_path / "other").read_text() == "still open"
    with pytest.raises(RuntimeError, match="closed"):
        b.load(tmp_path / "other")


def test_a_report_must_be_html(capsys, tmp_path):
    assert main(["report", "screen", "--out", str(tmp_path / "x.png")]) == 2
    assert "an .html file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["screen", "--format", "json"],
        ["backtest", "discount", "--start", "2024-01-01", "--format", "json"],
        ["backtest", "pairs", "--pair", "BABA:AMZN", "--start", "2024-01-01", "--format", "json"],
    ],
)
def test_report_option_on_screen_and_backtests(capsys, tmp_path, args):
    path = tmp_path / "r.html"
    assert main([*args, "--report", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"wrote {path}" in err and out.lstrip().startswith("{")  # stdout stays the JSON
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert main([*args, "--report", str(tmp_path / "r.txt")]) == 2


def test_screen_report_shows_the_changes_and_the_coverage(tmp_path):
    arch = tmp_path / "arch"
    assert main(["screen", "--as-of", "2025-12-31", "--archive", str(arch), "--format", "json",
                 "--out", str(tmp_path / "s.json")]) == 0  # fmt: skip
    out = tmp_path / "r.html"
    assert main(["report", "screen", "--archive", str(arch), "--diff", "2025-12-31", "--out",
                 str(out)]) == 0  # fmt: skip
    text = out.read_text()
    assert "What changed since the previous screen" in text and "entered" in text
    assert "Chinese names valued" in text and "previous_screen" in text


def test_a_sweep_report_has_the_heatmap_and_the_overfitting_figures(tmp_path):
    out = tmp_path / "bt.html"
    assert main(["backtest", "discount", "--start", "2024-01-01", "--top", "3,5", "--rebalance",
                 "W,M", "--format", "json", "--report", str(out)]) == 0  # fmt: skip
    text = out.read_text()
    assert "Sharpe over the sweep" in text and "deflated Sharpe" in text


def test_the_screen_document_says_when_the_data_end(capsys):
    import json

    assert main(["screen", "--as-of", "2025-06-30", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["data_end"] == "2026-07-14"


def test_reports_before_the_gap_history_and_sweeps_of_lists(tmp_path):
    assert main(["report", "screen", "--as-of", "2015-12-31", "--out",
                 str(tmp_path / "early.html")]) == 0  # fmt: skip
    out = tmp_path / "sweep.html"
    assert main(["report", "discount", "--start", "2024-01-01", "--top", "3,5", "--out",
                 str(out)]) == 0  # fmt: skip
    text = out.read_text()
    assert "top3|M|equal|valuation" in text and "top5|M|equal|valuation" in text
    assert "&quot;2026-07-14&quot;" in text  # the end actually used, not null


def test_a_report_is_the_same_bytes_every_time(tmp_path):
    """Same inputs, same bytes: no random chart ids (plotly's default) or times in a report."""
    pages = []
    for name in ("a.html", "b.html"):
        assert main(["report", "pairs", "--pair", "BABA:AMZN", "--start", "2024-01-01",
                     "--out", str(tmp_path / name)]) == 0  # fmt: skip
        pages.append((tmp_path / name).read_bytes())
    assert pages[0] == pages[1] and pages[0].count(b'class="plotly-graph-div') >= 3
