"""Self-contained HTML: one page with its styles, scripts and images inline, nothing fetched.

Reports open from a file, on a machine without network, and can be mailed as one file: images
are ``data:`` URIs (base64 PNG), styles and scripts sit in the page, and the Content Security
Policy in the head forbids any request the page might otherwise make.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

from lmtool.files import json_safe

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 70em;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 13px; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
img { max-width: 100%; border: 1px solid #eee; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; margin-top: 1.5em; }
.figures figure { flex: 1 1 420px; margin: 0; }
figcaption { font-size: 12.5px; color: #555; text-align: center; }
.note { color: #555; font-size: 12.5px; }
code { background: #f4f4f4; padding: 0 3px; }
"""

#: no request of any kind: images only from data: URIs, styles and scripts only inline
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def escape(text) -> str:
    """``text`` safe inside HTML elements and attribute values."""
    return html.escape(str(text), quote=True)


def page(title: str, body: str, extra_style: str = "") -> str:
    """A whole HTML document around ``body`` (trusted HTML), with the shared styles inline."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{STYLE}{extra_style}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


def image(path: str | Path, alt: str) -> str:
    """An ``<img>`` holding the PNG at ``path`` as a data: URI."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def cell(value) -> str:
    """A table cell's text: floats to 4 significant figures, missing values as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) >= 1e5 or (value and abs(value) < 1e-3) else f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict], columns: dict, formats: dict | None = None) -> str:
    """``rows`` as an HTML table with the headers of ``columns``; ``formats`` maps a key to a function."""
    formats = formats or {}
    head = "".join(f"<th>{escape(h)}</th>" for h in columns.values())
    body = "".join("<tr>" + "".join(f"<td>{escape(formats.get(k, cell)(r.get(k)))}</td>" for k in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def json_script(payload, element_class: str) -> str:
    """``payload`` as a JSON data block a page script can read (``<`` escaped: nothing in it can end the
    element); an infinite gain (a model that gives a token probability 0) is null, as in every JSON lmtool writes."""
    text = json.dumps(json_safe(payload), separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    return f'<script type="application/json" class="{element_class}">{text}</script>'
