"""Render an HTML file in headless Chromium and report what a reader would see (skips without Chromium).

The page is loaded from a copy with a probe script appended: after the load event it records
each image's decoded width (0 or -1: not shown), the number of tables, and what the colour
view's tooltip shows after a mouseover on its first token. Chromium logs every console message
of the page (errors, CSP violations such as a blocked network request) as a ``CONSOLE`` line on
stderr; those are returned too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"]

PROBE = """<script>window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (i) { return i.complete ? i.naturalWidth : -1; });
  var tables = document.querySelectorAll("table").length;  // before the tooltip adds its own
  var span = document.querySelector(".lmview span[data-i]");
  if (span) span.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
  var tip = document.querySelector(".lmview-tip");
  var out = document.createElement("pre");
  out.id = "lmtool-probe";
  out.textContent = JSON.stringify({images: images, tables: tables,
    tip: tip ? {display: tip.style.display, text: tip.textContent} : null});
  document.body.appendChild(out);
});</script>"""


def chromium() -> str:
    """The Chromium executable, or skip the test saying how to get one."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium; .ci/run does it as root)")


def render(page: Path, workdir: Path) -> tuple[dict, list[str]]:
    """``(probe results, console lines)`` of ``page`` loaded in a fresh headless Chromium profile."""
    executable = chromium()
    probed = workdir / f"probed-{page.name}"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    result = subprocess.run([executable, *FLAGS, f"--user-data-dir={workdir / 'profile'}", "--dump-dom",
                             probed.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="lmtool-probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the page did not finish loading in Chromium: {result.stderr[-2000:]}"
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")), console
