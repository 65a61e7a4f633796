"""Turn a run's events into a conversation transcript: rich terminal output or one HTML page.

Used by ``crew show RUN_ID [--html FILE]``::

    events = read_events(run_dir)
    render_terminal(events, Console())
    write_html(events, "run.html")
    trace_url(events)          # the Langfuse trace, when the run was traced there
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.observability.events import Event, read_events

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

__all__ = ["Node", "build_tree", "gen_meta", "read_events", "render_terminal", "said",
           "summarize", "trace_url", "walk", "write_html"]

PREVIEW_CHARS = 600


@dataclass
class Node:
    """One observation (start and end merged) or point event, with its children."""

    id: str
    kind: str  # run, task, round, agent, generation, tool, event
    name: str
    start: dict[str, Any] = field(default_factory=dict)
    end: dict[str, Any] | None = None
    ts: float = 0.0
    end_ts: float | None = None
    children: list[Node] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        e = (self.end or {}).get("error")
        if e is None and self.kind == "event" and self.start.get("level") == "ERROR":
            e = self.start.get("message") or self.name
        return str(e) if e is not None else None

    @property
    def level(self) -> str:
        if self.kind == "event":
            return str(self.start.get("level", "DEFAULT"))
        return str((self.end or {}).get("level") or ("ERROR" if self.error else "DEFAULT"))


def build_tree(events: list[Event]) -> list[Node]:
    """The observation forest of a run, in start order (normally one root: the run)."""
    nodes: dict[str, Node] = {}
    roots: list[Node] = []
    for ev in events:
        type_ = str(ev.get("type", ""))
        eid = str(ev.get("id", ""))
        payload = ev.get("payload") or {}
        if type_.endswith(".end"):
            node = nodes.get(eid)
            if node is not None:
                node.end, node.end_ts = payload, ev.get("ts")
            continue
        kind = type_[:-6] if type_.endswith(".start") else "event"
        node = Node(eid, kind, str(ev.get("name", "")), payload, ts=float(ev.get("ts") or 0))
        nodes[eid] = node
        parent = nodes.get(str(ev.get("parent_id") or ""))
        (parent.children if parent is not None else roots).append(node)
    return roots


def walk(nodes: list[Node]) -> list[Node]:
    """Every node of the forest, depth first in start order."""
    out: list[Node] = []
    for n in nodes:
        out.append(n)
        out.extend(walk(n.children))
    return out


def summarize(events: list[Event]) -> dict[str, Any]:
    """Totals of a run: LLM calls, tokens, cost, tool calls, errors, duration."""
    all_nodes = walk(build_tree(events))
    gens = [n for n in all_nodes if n.kind == "generation" and n.end is not None]
    usage = [(n.end or {}).get("usage") or {} for n in gens]
    ts = [float(e["ts"]) for e in events if isinstance(e.get("ts"), int | float)]
    return {
        "llm_calls": len(gens),
        "input_tokens": sum(int(u.get("input", 0)) for u in usage),
        "output_tokens": sum(int(u.get("output", 0)) for u in usage),
        "cost_usd": round(sum(float((n.end or {}).get("cost_usd") or 0) for n in gens), 6),
        "tool_calls": sum(1 for n in all_nodes if n.kind == "tool"),
        "errors": sum(1 for n in all_nodes if n.error),
        "duration_s": round(max(ts) - min(ts), 3) if ts else 0.0,
    }


def trace_url(events: list[Event]) -> str | None:
    """The Langfuse URL of the run's trace, or None when it was not traced there."""
    for ev in events:
        payload = ev.get("payload") or {}
        lf = payload.get("langfuse") if isinstance(payload, dict) else None
        if isinstance(lf, dict) and lf.get("url"):
            return str(lf["url"])
    return None


def _text(value: Any, limit: int | None = PREVIEW_CHARS) -> str:
    """`value` as text, cut at `limit` characters (None: whole)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if limit is None or len(text) <= limit:
        return text
    return text[:limit] + f"… (+{len(text) - limit} chars)"


def said(node: Node, limit: int | None = PREVIEW_CHARS,
         call_limit: int | None = None) -> tuple[str, list[str]]:
    """What a generation said: its text (cut at `limit`; None: whole — the HTML page shows a
    plan's JSON in full) and its tool calls as 'name(args)' (the arguments cut at
    `call_limit`)."""
    out = (node.end or {}).get("output")
    if isinstance(out, dict):
        calls = [f"{c.get('function', {}).get('name', '?')}"
                 f"({_args(c.get('function', {}).get('arguments', ''), call_limit)})"
                 for c in out.get("tool_calls") or [] if isinstance(c, dict)]
        return _text(out.get("content"), limit), calls
    return _text(out, limit), []


def _args(arguments: Any, limit: int | None) -> str:
    return str(arguments) if limit is None else _text(arguments, limit)


def gen_meta(node: Node) -> str:
    """`model · in→out tok · $cost` of a generation."""
    end = node.end or {}
    usage = end.get("usage") or {}
    bits = [str(end.get("model") or node.start.get("model") or "")]
    if usage:
        bits.append(f"{usage.get('input', 0)}→{usage.get('output', 0)} tok")
    if end.get("cost_usd") is not None:
        bits.append(f"${float(end['cost_usd']):.4f}")
    return " · ".join(b for b in bits if b)


def _heading(node: Node) -> str:
    s = node.start
    if node.kind == "run":
        return f"Run {s.get('run_id', '')}: {node.name}"
    if node.kind == "task":
        roles = ", ".join(s.get("roles") or [])
        title = f" — {s['title']}" if s.get("title") else ""
        return f"Task {node.name}{title}  [{s.get('pattern', '')}: {roles}]"
    if node.kind == "round":
        return node.name.capitalize()
    if node.kind == "agent":
        return f"{node.name} (turn {s.get('turn', 0)})"
    return node.name


# -- terminal ------------------------------------------------------------------------------
def render_terminal(events: list[Event], console: Console) -> None:
    """Print the conversation: tasks, rounds, who said what, tool calls, cost."""
    from rich.tree import Tree

    roots = build_tree(events)
    if not roots:
        console.print("(no events)")
        return
    for root in roots:
        tree = Tree(_label(root))
        for child in root.children:
            _add(tree, child)
        console.print(tree)
    t = summarize(events)
    console.print(
        f"[bold]{t['llm_calls']}[/] LLM calls · {t['input_tokens']}+{t['output_tokens']} tokens · "
        f"[bold]${t['cost_usd']:.4f}[/] · {t['tool_calls']} tool calls · "
        f"{t['errors']} errors · {t['duration_s']:.1f} s")
    url = trace_url(events)
    if url:
        console.print(f"Langfuse: {url}", markup=False)


def _label(node: Node) -> Text:
    from rich.text import Text

    style = {"run": "bold", "task": "bold cyan", "round": "magenta", "agent": "bold green"}
    label = Text(_heading(node), style=style.get(node.kind, ""))
    if node.kind in ("run", "task") and node.end is not None:
        status = node.end.get("status")
        if status:
            label.append(f"  {status}", style="dim")
    if node.error:
        label.append(f"  ✗ {_text(node.error, 300)}", style="red")
    return label


def _add(tree: Tree, node: Node) -> None:
    from rich.text import Text

    if node.kind == "generation":
        content, calls = said(node)
        line = Text(f"{node.name} ", style="dim")
        line.append(f"[{gen_meta(node)}]", style="dim")
        branch = tree.add(line)
        if content:
            branch.add(Text(content))
        for call in calls:
            branch.add(Text(f"→ {_text(call, 300)}", style="yellow"))
        if node.error:
            branch.add(Text(f"✗ {_text(node.error, 300)}", style="red"))
        return
    if node.kind == "tool":
        line = Text(f"⚙ {node.name}", style="yellow")
        line.append(f" {_text(node.start.get('input'), 200)}", style="dim")
        branch = tree.add(line)
        if node.error:
            branch.add(Text(f"✗ {_text(node.error, 300)}", style="red"))
        elif node.end is not None and node.end.get("output") is not None:
            branch.add(Text(_text(node.end.get("output"), 300), style="dim"))
        return
    if node.kind == "event":
        body = {k: v for k, v in node.start.items() if k != "level"}
        style = {"ERROR": "red", "WARNING": "yellow"}.get(node.level, "blue")
        tree.add(Text(f"● {node.name} {_text(body, 300)}", style=style))
        return
    branch = tree.add(_label(node))
    for child in node.children:
        _add(branch, child)


# -- HTML ----------------------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2430}
h1{font-size:1.4rem}.meta{color:#5b6573}details{margin:.3rem 0 .3rem 1.1rem}
summary{cursor:pointer}.task>summary{font-weight:600;color:#0b6e99}
.round>summary{color:#7a3e9d}.agent>summary{font-weight:600;color:#1f7a3a}
.msg{white-space:pre-wrap;background:#f5f7fa;border-radius:6px;padding:.5rem .7rem;
margin:.3rem 0 .3rem 1.1rem}.call{color:#9a6700;font-family:ui-monospace,monospace}
.tool{margin:.3rem 0 .3rem 1.1rem;font-family:ui-monospace,monospace;color:#9a6700}
.out{white-space:pre-wrap;color:#5b6573}.err{color:#b42318}.ev{margin-left:1.1rem;color:#175cd3}
.ev.WARNING{color:#b54708}.ev.ERROR{color:#b42318}.dim{color:#8a94a3;font-size:.9em}
"""


def write_html(events: list[Event], path: str | Path) -> None:
    """Write a self-contained HTML page (inline CSS, every value escaped) of the run."""
    roots = build_tree(events)
    t = summarize(events)
    title = roots[0].name if roots else "crew run"
    e = html.escape
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p class=meta>{t['llm_calls']} LLM calls · {t['input_tokens']}+{t['output_tokens']}"
        f" tokens · ${t['cost_usd']:.4f} · {t['tool_calls']} tool calls · {t['errors']} errors"
        f" · {t['duration_s']:.1f} s</p>",
    ]
    if roots and roots[0].ts:
        when = datetime.fromtimestamp(roots[0].ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        parts.append(f"<p class=meta>started {e(when)}</p>")
    url = trace_url(events)
    if url:
        parts.append(f'<p class=meta>Langfuse: <a href="{e(url)}">{e(url)}</a></p>')
    for root in roots:
        if root.kind == "run":
            parts.extend(_html(c) for c in root.children)
        else:
            parts.append(_html(root))
    parts.append("</body></html>\n")
    Path(path).write_text("".join(parts), encoding="utf-8")


def _html(node: Node) -> str:
    e = html.escape
    err = f' <span class=err>✗ {e(_text(node.error, 500))}</span>' if node.error else ""
    if node.kind == "generation":
        content, calls = said(node, None)
        body = f"<div class=dim>{e(node.name)} [{e(gen_meta(node))}]{err}</div>"
        if content:
            body += f"<div class=msg>{e(content)}</div>"
        body += "".join(f"<div class=call>→ {e(c)}</div>" for c in calls)
        return body
    if node.kind == "tool":
        out = "" if node.error or node.end is None else \
            f"<div class=out>{e(_text(node.end.get('output'), 2000))}</div>"
        return (f"<div class=tool>⚙ {e(node.name)} <span class=dim>"
                f"{e(_text(node.start.get('input'), 500))}</span>{err}{out}</div>")
    if node.kind == "event":
        fields = {k: v for k, v in node.start.items() if k != "level"}
        return f"<div class='ev {e(node.level)}'>● {e(node.name)} {e(_text(fields, 500))}</div>"
    inner = "".join(_html(c) for c in node.children)
    return (f"<details open class={e(node.kind)}><summary>{e(_heading(node))}{err}</summary>"
            f"{inner}</details>")
