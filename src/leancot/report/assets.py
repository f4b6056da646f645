"""The page's stylesheet and the trace viewer's script, inlined into report.html.

The script never puts model text into ``innerHTML``: records arrive as JSON in a
``<script type="application/json">`` block (parsed, never executed) and every piece of
text becomes a DOM text node, so a trace holding ``<script>`` shows as text.
"""

CSS = """
:root { --keep: #2e7d32; --compress: #1565c0; --merge: #7b1fa2; --delete: #c62828; --line: #ddd; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1400px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 15px; margin: 16px 0 6px; }
nav a { margin-right: 14px; }
.meta, .note, figcaption { color: #666; font-size: 12.5px; }
.warnings { background: #fff8e1; border: 1px solid #ffe082; padding: 6px 12px; border-radius: 4px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; margin: 6px 0; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 12px 0; background: #fff; border: 1px solid var(--line); padding: 8px; display: inline-block; max-width: 100%; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { max-width: 640px; margin-top: 4px; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.viewer-bar { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
#trace-search { font-size: 14px; padding: 5px 8px; width: 340px; max-width: 100%; }
.viewer { display: grid; grid-template-columns: 260px 1fr; gap: 12px; align-items: start; }
#trace-list { list-style: none; margin: 0; padding: 0; max-height: 80vh; overflow-y: auto; border: 1px solid var(--line); background: #fff; }
#trace-list li button { all: unset; display: block; width: 100%; padding: 5px 8px; cursor: pointer; border-bottom: 1px solid #eee; font-size: 12.5px; word-break: break-all; }
#trace-list li button:hover { background: #f3f3f3; }
#trace-list li.current button { background: #e3f2fd; }
#trace-list .sub { color: #777; font-size: 11.5px; }
[hidden] { display: none !important; }
#trace-head { background: #fff; border: 1px solid var(--line); padding: 8px 12px; }
#trace-head .question { white-space: pre-wrap; margin: 4px 0; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-top: 8px; }
.side { background: #fff; border: 1px solid var(--line); padding: 0 8px 8px; max-height: 80vh; overflow-y: auto; }
.side h3 { position: sticky; top: 0; background: #fff; padding: 6px 0; margin: 0; border-bottom: 1px solid #eee; z-index: 1; }
.step { border-left: 4px solid #999; padding: 3px 8px; margin: 5px 0; background: #f9f9f9; }
.step-head { font-size: 11px; margin-bottom: 2px; }
.step-text { white-space: pre-wrap; word-wrap: break-word; }
.step .num { color: #888; margin-right: 6px; }
.badge, .step .skill, .step .action { display: inline-block; border-radius: 9px; padding: 0 7px; margin-right: 4px; font-size: 11px; }
.step .skill { background: #eceff1; color: #37474f; }
.step .action, .badge { color: #fff; }
.act-keep { border-left-color: var(--keep); } .act-keep .action, .badge.keep { background: var(--keep); }
.act-compress { border-left-color: var(--compress); background: #f3f8fd; } .act-compress .action, .badge.compress { background: var(--compress); }
.act-merge { border-left-color: var(--merge); background: #faf5fc; } .act-merge .action, .badge.merge { background: var(--merge); }
.act-delete { border-left-color: var(--delete); background: #fdf5f5; } .act-delete .action, .badge.delete { background: var(--delete); }
#trace-original .act-delete .step-text { text-decoration: line-through; color: #8d6e6e; }
.step.hit { outline: 2px solid #f9a825; background: #fffde7; }
.step.linked { box-shadow: 0 0 0 2px #90caf9; }
mark { background: #ffeb3b; padding: 0; }
details.pruned-text { margin-top: 8px; }
details.pruned-text pre { white-space: pre-wrap; word-wrap: break-word; background: #f5f5f5; padding: 6px; font-size: 12.5px; }
"""

VIEWER_JS = r"""
(function () {
  "use strict";
  var dataEl = document.getElementById("trace-data");
  if (!dataEl) { return; }
  var records = JSON.parse(dataEl.textContent);
  var list = document.getElementById("trace-list");
  var search = document.getElementById("trace-search");
  var count = document.getElementById("trace-count");
  var items = [];
  var current = -1;
  var query = "";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  // The text as nodes, each occurrence of q wrapped in <mark> (text nodes only: never parsed as HTML).
  function highlighted(text, q) {
    var frag = document.createDocumentFragment();
    var lower = text.toLowerCase();
    if (!q || lower.length !== text.length) {  // case folding changed the length: show it unmarked
      frag.appendChild(document.createTextNode(text));
      return frag;
    }
    var at = 0, i;
    while ((i = lower.indexOf(q, at)) !== -1) {
      frag.appendChild(document.createTextNode(text.slice(at, i)));
      frag.appendChild(el("mark", null, text.slice(i, i + q.length)));
      at = i + q.length;
    }
    frag.appendChild(document.createTextNode(text.slice(at)));
    return frag;
  }

  function keptText(step) { return step[4] === null || step[4] === undefined ? step[3] : String(step[4]); }

  function haystack(r) {
    var parts = [r.id, r.run, r.question, r.pruned, r.original || ""];
    r.steps.forEach(function (s) { parts.push(s[1], s[3], s[4] || ""); });
    return parts.join("\n").toLowerCase();
  }

  function stepHits(step, text) {
    return !!query && (text.toLowerCase().indexOf(query) !== -1 || String(step[1]).toLowerCase() === query);
  }

  function stepEl(step, text) {
    var d = el("div", "step act-" + step[2]);
    d.setAttribute("data-step", String(step[0]));
    var head = el("div", "step-head");
    head.appendChild(el("span", "num", "#" + step[0]));
    head.appendChild(el("span", "skill", step[1]));
    head.appendChild(el("span", "action", step[2]));
    d.appendChild(head);
    var body = el("div", "step-text");
    body.appendChild(highlighted(text, query));
    d.appendChild(body);
    if (stepHits(step, text)) { d.classList.add("hit"); }
    return d;
  }

  function link(index, on) {
    document.querySelectorAll('#trace-detail .step[data-step="' + index + '"]').forEach(function (n) {
      n.classList.toggle("linked", on);
    });
  }

  function renderHead(r) {
    var head = document.getElementById("trace-head");
    head.textContent = "";
    var title = el("div");
    title.appendChild(el("strong", null, r.id));
    title.appendChild(el("span", "meta", "  " + r.run + " · " + (r.method || "?") + " · tokens " + r.before + " → " + r.after +
      " · answer " + r.answer + " (gold " + r.gold + ") · " + (r.verified ? "verified" : "not verified")));
    head.appendChild(title);
    var q = el("div", "question");
    q.appendChild(highlighted(r.question, query));
    head.appendChild(q);
  }

  function render(i) {
    current = i;
    items.forEach(function (li, j) { li.classList.toggle("current", j === i); });
    var r = records[i];
    renderHead(r);
    var orig = document.getElementById("trace-original");
    var pruned = document.getElementById("trace-pruned");
    orig.querySelectorAll(".step, .empty").forEach(function (n) { n.remove(); });
    pruned.querySelectorAll(".step, .empty, details").forEach(function (n) { n.remove(); });
    if (!r.steps.length) {
      orig.appendChild(stepEl([0, "(no steps)", "keep", r.original || ""], r.original || ""));
    }
    r.steps.forEach(function (s) {
      orig.appendChild(stepEl(s, String(s[3])));
      var kept = keptText(s);
      if (s[2] !== "delete" && kept !== "") { pruned.appendChild(stepEl(s, kept)); }
    });
    var details = el("details", "pruned-text");
    details.appendChild(el("summary", null, "The pruned text as written to records.jsonl"));
    var pre = el("pre");
    pre.appendChild(highlighted(r.pruned, query));
    details.appendChild(pre);
    pruned.appendChild(details);
    var first = document.querySelector("#trace-original .step.hit");
    if (first) { first.scrollIntoView({block: "nearest"}); }
  }

  function clear() {
    current = -1;
    items.forEach(function (li) { li.classList.remove("current"); });
    document.getElementById("trace-head").textContent = "No record matches the search.";
    document.querySelectorAll("#trace-detail .step, #trace-detail details").forEach(function (n) { n.remove(); });
  }

  function applySearch() {
    query = search.value.trim().toLowerCase();
    var shown = 0, firstShown = -1;
    records.forEach(function (r, i) {
      var ok = !query || r._hay.indexOf(query) !== -1;
      items[i].hidden = !ok;
      if (ok) { shown += 1; if (firstShown < 0) { firstShown = i; } }
    });
    count.textContent = shown + " of " + records.length + " records" + (query ? " match" : "");
    if (firstShown < 0) { clear(); return; }
    render(current >= 0 && !items[current].hidden ? current : firstShown);
  }

  records.forEach(function (r, i) {
    r._hay = haystack(r);
    var li = el("li");
    li.setAttribute("data-id", r.id);
    var b = el("button");
    b.type = "button";
    b.appendChild(el("div", null, r.id));
    b.appendChild(el("div", "sub", r.run + " · " + r.before + " → " + r.after + " tokens"));
    b.addEventListener("click", function () { render(i); });
    li.appendChild(b);
    list.appendChild(li);
    items.push(li);
  });
  document.getElementById("trace-detail").addEventListener("mouseover", function (ev) {
    var s = ev.target.closest && ev.target.closest(".step");
    document.querySelectorAll("#trace-detail .step.linked").forEach(function (n) { n.classList.remove("linked"); });
    if (s) { link(s.getAttribute("data-step"), true); }
  });
  search.addEventListener("input", applySearch);
  applySearch();
})();
"""
