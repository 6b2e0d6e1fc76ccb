"""Loads a kymo HTML report from disk in headless Chromium and checks what a reader sees.

Usage: check_report.py REPORT.html SCREENSHOT.png [PDF]

Checks: every section is there; the page as first shown (long groups collapsed) stays
within a height budget, and no collapsed section hides a classified example sweep; then,
with every collapsed section opened: every plot (inline SVG) has a rendered size and content;
the per-channel figures (timeline, sweeps, raster, templates, interval histograms) exist;
the clinical section shows its not-a-diagnosis note; every discharge has a table row;
every audio link points at a WAV beside the report; nothing refers to the network; the
browser console shows no error. Saves a full-page screenshot (and, if asked, the A4 print
as PDF) of the page as first shown. Prints one JSON line of measurements; exits 1 with the reasons on failure.

Uses Debian's Chromium and ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver,
installed by scripts/setup-browser) through selenium; never downloads a driver.
"""

import base64
import json
import os
import sys
import tempfile
import pathlib

CHROMIUM = os.environ.get("KYMO_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KYMO_CHROMEDRIVER", "/usr/bin/chromedriver")
# Chromium cannot capture taller screenshots than this in one piece.
MAX_SHOT_PX = 16000
# Height budget of the page as first shown, px at 1100 px wide (0: none), from the
# environment (KYMO_REPORT_MAX_HEIGHT_PX); the Rust test sets it per report.
MAX_HEIGHT_PX = int(os.environ.get("KYMO_REPORT_MAX_HEIGHT_PX", "0"))

# What the page looks like as first shown, before anything is opened.
COLLAPSED = r"""
const closed = Array.from(document.querySelectorAll('details:not([open])'));
return {
  height: Math.ceil(document.documentElement.scrollHeight),
  closed: closed.length,
  closed_classified_sweeps: closed
    .flatMap(d => Array.from(d.querySelectorAll('figure.sweep')))
    .filter(f => f.dataset.class !== 'unclassified').length,
  open_unclassified: document.querySelectorAll(
    'details[open][data-class=unclassified], details.sweeps-more[open]').length,
};
"""

OPEN_ALL = "document.querySelectorAll('details').forEach(d => d.open = true);"

PROBE = r"""
const out = {sections: [], plots: [], figures: {}, errors: []};
for (const s of document.querySelectorAll('section[data-section]')) {
  out.sections.push({id: s.id, kind: s.dataset.section, h: s.getBoundingClientRect().height});
}
for (const svg of document.querySelectorAll('svg.plot')) {
  const r = svg.getBoundingClientRect();
  const marks = svg.querySelectorAll('polyline, path, rect, circle, line').length;
  const texts = Array.from(svg.querySelectorAll('text')).map(t => t.textContent);
  out.plots.push({cls: svg.getAttribute('class'), w: r.width, h: r.height, marks: marks,
                  texts: texts.length, label: svg.getAttribute('aria-label'),
                  axis: texts.filter(t => /\((ms|s|Hz|µV)\)|^µV$|ms\/div|µV\/div/.test(t)).length});
}
for (const kind of ['timeline', 'sweep', 'raster', 'template', 'isi', 'envelope']) {
  out.figures[kind] = document.querySelectorAll('figure.' + kind).length;
}
out.channels = document.querySelectorAll('section[data-section=channel]').length;
out.discharge_rows = document.querySelectorAll('table.discharges tr').length -
                     document.querySelectorAll('table.discharges').length;
out.statements = document.querySelectorAll('#clinical .statement').length;
const note = document.querySelector('#clinical .notdx');
out.note = note ? note.innerText : '';
out.note_visible = note ? note.getBoundingClientRect().height > 0 : false;
out.audio = Array.from(document.querySelectorAll('audio')).map(a => a.getAttribute('src'));
out.external = Array.from(document.querySelectorAll('[src],[href]'))
  .map(e => e.getAttribute('src') || e.getAttribute('href'))
  .filter(u => /^[a-z][a-z0-9+.-]*:/i.test(u) && !u.startsWith('data:'));
out.scripts = document.querySelectorAll('script').length;
out.title = document.title;
out.height = Math.ceil(document.documentElement.scrollHeight);
out.width = Math.ceil(document.documentElement.scrollWidth);
return out;
"""


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    report = pathlib.Path(sys.argv[1]).resolve()
    shot = pathlib.Path(sys.argv[2])
    pdf = pathlib.Path(sys.argv[3]) if len(sys.argv) > 3 else None
    problems = []
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not os.access(exe, os.X_OK):
            print(f"check_report: {exe} is missing; run scripts/setup-browser", file=sys.stderr)
            return 1
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        print(f"check_report: selenium is not installed ({e}); run scripts/setup-python",
              file=sys.stderr)
        return 1

    profile = tempfile.mkdtemp(prefix="kymo-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--window-size=1100,1000", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        driver.set_page_load_timeout(60)
        driver.get(report.as_uri())
        collapsed = driver.execute_script(COLLAPSED)
        logs = driver.get_log("browser")
        # Screenshot and print of the page as a reader first sees it.
        height = min(collapsed["height"], MAX_SHOT_PX)
        png = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1100, "height": height, "scale": 1}})
        shot.parent.mkdir(parents=True, exist_ok=True)
        shot.write_bytes(base64.b64decode(png["data"]))
        pdf_pages = None
        if pdf is not None:
            printed = driver.execute_cdp_cmd("Page.printToPDF", {
                "preferCSSPageSize": True, "printBackground": True})
            pdf.write_bytes(base64.b64decode(printed["data"]))
            pdf_pages = pdf.read_bytes().count(b"/Type /Page") - \
                pdf.read_bytes().count(b"/Type /Pages")
        # Then everything opened, to check every plot and row.
        driver.execute_script(OPEN_ALL)
        m = driver.execute_script(PROBE)
        m["collapsed"] = collapsed
        if pdf_pages is not None:
            m["pdf_pages"] = pdf_pages
        logs += driver.get_log("browser")
    finally:
        driver.quit()

    # Console: no error of any source (script, CSP violation, failed resource).
    errors = [entry for entry in logs if entry.get("level") == "SEVERE"]
    for entry in errors:
        problems.append(f"console error: {entry.get('message')}")

    c = m["collapsed"]
    if c["closed_classified_sweeps"]:
        problems.append(f"{c['closed_classified_sweeps']} example sweeps of classified "
                        "discharges are hidden in collapsed sections")
    if c["open_unclassified"]:
        problems.append("unclassified activity is not collapsed")
    if MAX_HEIGHT_PX and c["height"] > MAX_HEIGHT_PX:
        problems.append(f"the page as first shown is {c['height']} px tall "
                        f"(budget {MAX_HEIGHT_PX} px)")

    ids = {s["id"] for s in m["sections"]}
    for need in ("summary", "clinical"):
        if need not in ids:
            problems.append(f"section #{need} is missing")
    if m["channels"] < 1:
        problems.append("no channel section")
    for s in m["sections"]:
        if s["h"] <= 0:
            problems.append(f"section #{s['id']} is empty (height 0)")
    if not m["plots"]:
        problems.append("no plot")
    for p in m["plots"]:
        if p["w"] < 50 or p["h"] < 50:
            problems.append(f"plot {p['label']!r} is not rendered ({p['w']}x{p['h']} px)")
        if p["marks"] < 3:
            problems.append(f"plot {p['label']!r} is empty ({p['marks']} marks)")
        if p["axis"] < 1:
            problems.append(f"plot {p['label']!r} has no axis label with a unit")
    for kind in ("timeline", "raster"):
        if m["figures"][kind] != m["channels"]:
            problems.append(f"{m['figures'][kind]} {kind} figures for {m['channels']} channels")
    for kind in ("sweep", "template", "isi"):
        if m["figures"][kind] < 1:
            problems.append(f"no {kind} figure")
    if m["discharge_rows"] < 1:
        problems.append("the discharge table has no row")
    if "Not a diagnosis" not in m["note"] or not m["note_visible"]:
        problems.append("the clinical section's not-a-diagnosis note is not visible")
    if m["external"]:
        problems.append(f"references outside the report: {m['external'][:5]}")
    if m["scripts"]:
        problems.append(f"{m['scripts']} script elements (the report needs none)")
    for src in m["audio"]:
        if not (report.parent / src).is_file():
            problems.append(f"audio {src} does not exist beside the report")

    summary = {k: m[k] for k in ("channels", "discharge_rows", "statements", "figures",
                                 "height", "title")}
    summary["height_collapsed"] = c["height"]
    summary["collapsed_sections"] = c["closed"]
    summary["plots"] = len(m["plots"])
    summary["audio"] = len(m["audio"])
    summary["console_entries"] = len(logs)
    if "pdf_pages" in m:
        summary["pdf_pages"] = m["pdf_pages"]
    print(json.dumps(summary, ensure_ascii=False))
    if problems:
        for p in problems:
            print("check_report: " + p, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
