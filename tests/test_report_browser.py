"""The demo's report opened in a real headless browser (Debian's chromium), as a reader would.

At 1,000, 1,280 and 1,400 px wide: no console error nor uncaught exception, no horizontal
overflow (the page does not scroll sideways and no table, image or block pokes out of the
text column), every image loaded; and the first screen opens with the decision. No browser,
no test: each test is skipped with the reason (``.ci/run`` installs ``chromium`` as root).

The checks run inside the page: a copy of ``report.html`` gets a script that records
``console.error`` and uncaught errors from the first line and, once the page has loaded,
measures the layout and writes the results as JSON into the DOM, which ``chromium
--headless --dump-dom`` prints. No extra Python dependency, no DevTools client.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest

from frt_experiments.cli import main
from frt_experiments.demo import run_demo
from frt_experiments.errors import FrtWarning
from frt_experiments.plan import ExperimentPlan, write_plan
from frt_experiments.report import report_settings

WIDTHS = (1000, 1280, 1400)
SCENARIOS = ("published", "harsh", "aa")
#: Customers per demo: the demo's smallest trials that still staff the desk (seconds each).
CUSTOMERS = 3000
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_CAPTURE = """<script>
window.__frt_errors = [];
(function () {
  var original = console.error;
  console.error = function () {
    window.__frt_errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
  window.addEventListener("error", function (e) {
    var where = e.target && e.target !== window ? " (" + (e.target.src || e.target.tagName) + ")"
                                                : "";
    window.__frt_errors.push("error: " + (e.message || "resource failed") + where);
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    window.__frt_errors.push("unhandled rejection: " + e.reason);
  });
})();
</script>"""

_MEASURE = """<script>
window.addEventListener("load", function () {
  var doc = document.documentElement, body = document.body;
  var style = getComputedStyle(body);
  var right = body.getBoundingClientRect().right - parseFloat(style.paddingRight) + 0.5;
  var poking = [];
  document.querySelectorAll("table, img, pre, p, ul, ol, h1, h2").forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.right > right || el.scrollWidth > el.clientWidth + 1 && el.tagName !== "PRE") {
      poking.push(el.tagName + " '" + (el.textContent || el.alt || "").slice(0, 60) + "' right "
                  + Math.round(box.right) + " > " + Math.round(right) + " (scrollWidth "
                  + el.scrollWidth + ", clientWidth " + el.clientWidth + ")");
    }
  });
  var images = Array.prototype.map.call(document.images, function (img) {
    return {alt: img.alt, complete: img.complete, width: img.naturalWidth};
  });
  var first = document.querySelector("h2");
  var verdict = document.querySelector(".verdict");
  var result = {
    viewport: window.innerWidth, scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth,
    poking: poking, images: images, errors: window.__frt_errors,
    firstSection: first ? first.textContent : null,
    verdict: verdict ? {text: verdict.textContent, cls: verdict.className,
                        top: verdict.getBoundingClientRect().top} : null
  };
  var out = document.createElement("pre");
  out.id = "frt-check";
  out.textContent = JSON.stringify(result);
  body.appendChild(out);
});
</script>"""


def find_browser() -> str | None:
    """The first headless-capable Chromium on PATH, or None."""
    for name in _BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def browser_checks(browser: str, html: Path, width: int, tmp: Path) -> dict[str, Any]:
    """Open a copy of ``html`` with the checks injected at ``width`` px; their results."""
    page = html.read_text(encoding="utf-8")
    page = page.replace("<head>", "<head>" + _CAPTURE, 1).replace("</body>", _MEASURE
                                                                  + "</body>", 1)
    copy = tmp / f"checked-{width}.html"
    copy.write_text(page, encoding="utf-8")
    run = subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
         f"--user-data-dir={tmp / f'profile-{width}'}", f"--window-size={width},900",
         "--virtual-time-budget=10000", "--dump-dom", copy.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="frt-check">(.*?)</pre>', run.stdout, re.S)
    if found is None:
        raise AssertionError(f"{browser} gave no check results (exit {run.returncode}): "
                             f"{run.stderr[-2000:]}")
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    result: dict[str, Any] = json.loads(text.replace("&amp;", "&"))
    result["uncaught"] = [line for line in run.stderr.splitlines()
                          if "Uncaught" in line and "CONSOLE" in line]
    return result


@pytest.fixture(scope="module")
def browser() -> str:
    path = find_browser()
    if path is None:
        pytest.skip("no headless browser: none of " + ", ".join(_BROWSERS) + " is on PATH "
                    "(.ci/run installs Debian's chromium when run as root; or apt-get install "
                    "chromium)")
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, browser: str) -> dict[str, Path]:
    """The demo's report.html of each scenario, built as ``frt demo --currency`` builds it."""
    out: dict[str, Path] = {}
    for scenario in SCENARIOS:
        where = tmp_path_factory.mktemp(f"demo-{scenario}")
        currency = "EUR" if scenario == "aa" else "USD"
        with report_settings(currency=currency, provenance={
                "command": f"frt demo --scenario {scenario} --customers {CUSTOMERS}",
                "seed": 7}), warnings.catch_warnings():
            warnings.simplefilter("ignore", FrtWarning)  # the report shows the diagnostics'
            demo = run_demo(where, scenario=scenario, customers=CUSTOMERS, rng=7,
                            progress=False)
        out[scenario] = demo.paths["html"]
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_report_reads_cleanly_in_a_browser_at_every_width(
        scenario: str, browser: str, reports: dict[str, Path], tmp_path: Path) -> None:
    for width in WIDTHS:
        got = browser_checks(browser, reports[scenario], width, tmp_path)
        assert got["viewport"] == width, got["viewport"]  # the window is the width asked
        assert got["errors"] == [], got["errors"]
        assert got["uncaught"] == [], got["uncaught"]
        assert got["scrollWidth"] <= got["clientWidth"], (width, got["scrollWidth"])
        assert got["poking"] == [], (width, got["poking"])
        assert len(got["images"]) >= 5, got["images"]  # forest, FRT, CSAT, volume, staffing
        broken = [i["alt"][:60] for i in got["images"] if not (i["complete"] and i["width"])]
        assert broken == [], broken
        # the alt texts describe (the forest's carries every metric's numbers)
        assert all(len(i["alt"]) > 40 for i in got["images"]), [i["alt"] for i in got["images"]]


def test_first_screen_opens_with_the_decision(browser: str, reports: dict[str, Path],
                                              tmp_path: Path) -> None:
    seen = {}
    for scenario in SCENARIOS:
        got = browser_checks(browser, reports[scenario], 1280, tmp_path)
        assert got["firstSection"] == "The decision"
        assert got["verdict"]["top"] < 600, got["verdict"]  # above the fold of a laptop
        seen[scenario] = got["verdict"]
    # aa: the arms' first responses did not differ, so no verdict stands
    assert seen["aa"]["text"].startswith("INCONCLUSIVE")
    assert "inconclusive" in seen["aa"]["cls"]
    # a success carried by revenue alone is not drawn as a plain success
    for scenario in ("published", "harsh"):
        text, cls = seen[scenario]["text"], seen[scenario]["cls"]
        assert text.startswith(("SUCCESS", "FAILURE")), text
        if "carried by the revenue clause alone" in text:
            assert "tradeoff" in cls
        elif text.startswith("SUCCESS"):
            assert "success" in cls


def test_the_checks_catch_what_they_look_for(browser: str, tmp_path: Path) -> None:
    # a page with each fault once: the harness must report every one (it is not vacuous)
    page = tmp_path / "faulty.html"
    page.write_text(
        "<!DOCTYPE html><html><head><style>body{max-width:600px;margin:auto}</style></head>"
        "<body><h2>x</h2><table><tr><td style='white-space:nowrap'>" + "wide " * 400
        + "</td></tr></table><img alt='missing' src='does-not-exist.png'>"
        "<script>console.error('boom');</script></body></html>", encoding="utf-8")
    got = browser_checks(browser, page, 1000, tmp_path)
    assert got["scrollWidth"] > got["clientWidth"]
    assert any(p.startswith("TABLE") for p in got["poking"]), got["poking"]
    assert [i["width"] for i in got["images"]] == [0]
    assert "console.error: boom" in got["errors"]
    assert any("does-not-exist.png" in e for e in got["errors"]), got["errors"]


def test_four_arm_analyze_report_fits_too(browser: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """frt analyze --report of the four-arm dose scenario (a table per slow arm, the
    dose-response's fourteen columns, identifiers such as two_business_days in cells)."""
    trial = tmp_path / "trial"
    assert main(["simulate", "--scenario", "dose", "--customers", "12000", "--seed", "5",
                 "--out", str(trial)]) == 0
    plan = tmp_path / "plan.toml"
    write_plan(ExperimentPlan(name="frt-dose", arms={
        "fast": "4h", "four_hours": "4h", "one_business_day": "one_business_day",
        "two_business_days": "two_business_days"}), plan)
    out = tmp_path / "out"
    assert main(["analyze", *(x for n in ("customers", "conversations", "assignments")
                              for x in (f"--{n}", str(trial / f"{n}.csv"))),
                 "--plan", str(plan), "--report", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    for width in (1000, 1400):
        got = browser_checks(browser, out / "report.html", width, tmp_path)
        assert got["errors"] == []
        assert got["scrollWidth"] <= got["clientWidth"], (width, got["scrollWidth"])
        assert got["poking"] == [], (width, got["poking"])
        assert all(i["complete"] and i["width"] for i in got["images"])
        assert got["firstSection"] == "At a glance"  # no decision: each arm's metrics first
