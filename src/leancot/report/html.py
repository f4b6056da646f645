"""Render the collected runs into one self-contained ``report.html`` and a ``report.md``.

The HTML file needs nothing beside it: plots are inlined PNGs, the stylesheet and the
trace viewer's script are inline, and nothing is fetched. Every string that comes from a
run (names, paths, model text) goes through ``html.escape``; the viewer's records are
JSON inside ``<script type="application/json">`` with ``<``, ``>`` and ``&`` written as
``\\u003c``... escapes, so no record can close the block or open a tag.
"""

from __future__ import annotations

import json
import re
import time
from html import escape
from importlib import metadata
from typing import Any

from leancot.report.assets import CSS, VIEWER_JS
from leancot.report.collect import Collection
from leancot.report.plots import ACTION_ORDER, Figure
from leancot.report.tables import Table

SECTIONS = (("runs", "Runs"), ("pareto", "Accuracy vs tokens"), ("lsp", "LSP curve"), ("compute", "Compute"),
            ("pruned", "Pruned data"), ("viewer", "Trace viewer"))  # fmt: skip


def script_json(obj: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``</script>``, no ``<!--``, no entity."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _version() -> str:
    try:
        return metadata.version("leancot")
    except metadata.PackageNotFoundError:
        return "?"


# --------------------------------------------------------------------------- pieces


def table_html(t: Table, *, titled: bool = False) -> str:
    """A table (with its title as a heading when ``titled``), or its note when it has no rows."""
    if titled and t.rows:
        return f"<h3>{escape(t.title)}</h3>" + table_html(t)
    if not t.rows:
        return f'<p class="note">{escape(t.note)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in t.rows)
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    return (
        f'<div class="table-wrap"><table id="table-{escape(t.key)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}'
    )


_NUMERIC = re.compile(r"^(–|[-+]?[\d,]*\.?\d+(e[-+]?\d+)?\s?(%|s|min|[KMG]iB|B|[GTPE]?FLOP)?)$")


def _cell(text: str) -> str:
    numeric = bool(_NUMERIC.match(text))  # numbers align right, so columns of them compare at a glance
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def figure_html(f: Figure) -> str:
    return (f'<figure id="fig-{escape(f.key)}"><img alt="{escape(f.title)}" src="data:image/png;base64,{f.png_base64}">'
            f"<figcaption><strong>{escape(f.title)}.</strong> {escape(f.caption)}</figcaption></figure>")  # fmt: skip


def _figures(figs: list[Figure], empty: str) -> str:
    if not figs:
        return f'<p class="note">{escape(empty)}</p>'
    return '<div class="figures">' + "".join(figure_html(f) for f in figs) + "</div>"


def viewer_html(records: list[dict[str, Any]]) -> str:
    if not records:
        return '<p class="note">No pruned records to show (the viewer needs a prune run).</p>'
    legend = "".join(f'<span class="badge {a}">{a}</span>' for a in ACTION_ORDER)
    return f"""
<p class="note">Each original step carries its skill (grey label) and what the pruner did with it (coloured by action);
the right column holds what is left. Hover a step to find its counterpart. The search matches ids, questions, step text and skill names.</p>
<div class="viewer-bar"><input id="trace-search" type="search" placeholder="Search traces, e.g. a number, a word or a skill" aria-label="Search traces">
<span id="trace-count" class="meta"></span><span>{legend}</span></div>
<div class="viewer" id="trace-viewer"><ol id="trace-list"></ol>
<div id="trace-detail"><div id="trace-head"></div>
<div class="sides"><div class="side" id="trace-original"><h3>Original</h3></div><div class="side" id="trace-pruned"><h3>Pruned</h3></div></div>
</div></div>
<script type="application/json" id="trace-data">{script_json(records)}</script>
<script>{VIEWER_JS}</script>"""


# --------------------------------------------------------------------------- the page


def render_html(coll: Collection, tables: dict[str, Table], figures: dict[str, list[Figure]], *, title: str) -> str:
    """The whole report page as a string."""
    nav = "".join(f'<a href="#{k}">{escape(v)}</a>' for k, v in SECTIONS)
    dirs = ", ".join(f"<code>{escape(str(d))}</code>" for d in coll.dirs)
    warnings = "".join(f"<li>{escape(w)}</li>" for w in coll.warnings)
    skills = "".join(table_html(t, titled=True) for k, t in tables.items() if k.startswith("skills-"))
    lsp_empty = "The LSP curve needs train runs that differ in their lead-span proportion (lsp) alone, at two proportions at least."
    viewer = [r for run in coll.prune for r in run.viewer]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body><main>
<h1>{escape(title)}</h1>
<p class="meta">Generated {escape(time.strftime("%Y-%m-%d %H:%M:%S %Z"))} by leancot {escape(_version())} from {dirs}: {len(coll.runs)} run(s).</p>
<nav>{nav}</nav>
{f'<div class="warnings"><ul>{warnings}</ul></div>' if warnings else ""}
<h2 id="runs">Runs</h2>{table_html(tables["runs"])}
<h2 id="pareto">Accuracy vs tokens</h2>{_figures(figures.get("pareto", []), "No evaluation results to plot.")}
{table_html(tables["eval"])}
{_figures(figures["budget"], "") if figures.get("budget") else ""}
{table_html(tables["budget"], titled=True) if coll.eval else ""}
<h2 id="lsp">LSP curve</h2>{_figures(figures.get("lsp", []), lsp_empty)}
{_figures(figures["answer"], "") if figures.get("answer") else ""}
{table_html(tables["answer-position"], titled=True) if coll.prune else ""}
<h2 id="compute">Compute</h2>{table_html(tables["compute"])}
{_figures(figures.get("loss", []), "No loss curves among these runs.") if coll.train else ""}
<h2 id="pruned">Pruned data</h2>{table_html(tables["prune"])}
{_figures(figures.get("skills", []), "No skill statistics to plot.") if coll.prune else ""}
{skills}
<h2 id="viewer">Trace viewer</h2>{viewer_html(viewer)}
</main></body></html>
"""


def render_markdown(coll: Collection, tables: dict[str, Table], *, title: str) -> str:
    """The same tables as Markdown (the plots and the trace viewer are in report.html)."""
    lines = [f"# {_md(title)}", "", f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by leancot {_version()} from "
             + ", ".join(f"`{_md(str(d))}`" for d in coll.dirs) + f": {len(coll.runs)} run(s). Plots and the trace viewer are in report.html.", ""]  # fmt: skip
    if coll.warnings:
        lines += [f"- {_md(w)}" for w in coll.warnings] + [""]
    for t in tables.values():
        lines += [f"## {_md(t.title)}", ""]
        if t.rows:
            lines += ["| " + " | ".join(_md(h) for h in t.headers) + " |", "|" + "---|" * len(t.headers)]
            lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in t.rows]
            lines.append("")
        if t.note:
            lines += [_md(t.note), ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    """A Markdown table cell: no raw HTML, no column breaks, one line."""
    return escape(str(text), quote=False).replace("|", "\\|").replace("\r", " ").replace("\n", " ")
