"""The results table: every group's JSON file -> Markdown, in RESULTS.md and the README.

The README keeps the table between two markers, so regenerating it never touches the prose
around it. Quick-mode results get a table of their own and never reach the README.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Row, Settings

START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
SECTIONS = ("accuracy", "references", "speed", "scale", "gpu")
HEADLINE = 4  # figures shown per row; the JSON files hold them all


# every row the tables ask for: one that no results file has is listed as not measured
# (section, name prefix, name suffix, shown name, target, command that measures it)
EXPECTED = [
    *[
        ("accuracy", f"{model}, {protocol}", "", f"{model}, {protocol}", target,
         f"make bench MODEL={model}" + (" (on a GPU: a run takes ~3 h on 2 CPU cores)"
                                        if model == "transformer" else ""))
        for model, targets in (("resnet", (0.88, 0.75)), ("rnn", (0.87, 0.74)),
                               ("transformer", (0.88, 0.76)))
        for protocol, target in zip(("raw", "clean"), (f">= {t}" for t in targets), strict=True)
    ],
    ("accuracy", "best nlpclf", ", raw", "best nlpclf configuration, raw", ">= 0.9",
     "make bench MODEL=ensemble (after two or more checkpoints)"),
    ("accuracy", "best nlpclf", ", clean", "best nlpclf configuration, clean", ">= 0.78",
     "make bench MODEL=ensemble (after two or more checkpoints)"),
    ("speed", "training throughput", "", "training throughput, nlpclf / plain PyTorch",
     ">= 0.97", "make bench MODEL=throughput"),
    ("speed", "resnet >= 0.86", "", "resnet >= 0.86 (raw) within 10 minutes of training",
     ">= 0.86 in <= 10 min", "make bench MODEL=resnet"),
    ("speed", "whole-corpus preparation, raw", "", "whole-corpus preparation, raw",
     "<= 15 s cold, <= 2 s warm", "make bench MODEL=pipeline"),
    ("speed", "command start to first training step", "", "first training step", "<= 20 s",
     "make bench MODEL=pipeline"),
    ("speed", "prediction, nlpclf.predict", "", "prediction with the residual CNN",
     ">= 500 documents/s", "make bench MODEL=inference"),
    ("scale", "synthetic corpus, 1,000,000", "", "synthetic corpus, 1,000,000 documents",
     "tokenize >= 10,000 docs/s, peak RSS < 4,096 MB", "make bench MODEL=scale"),
    ("gpu", "MiniLM fine-tuning, bf16", "", "MiniLM fine-tuning epoch in bf16 (GPU)",
     "epoch time and accuracy", "make bench MODEL=transformer, on a GPU machine"),
]  # fmt: skip


def missing_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The expected rows that no results file holds, marked as not measured."""
    out = []
    for section, prefix, suffix, name, target, how in EXPECTED:
        if not any(r["name"].startswith(prefix) and r["name"].endswith(suffix) for r in rows):
            out.append(
                {"section": section, "name": name, "figures": {}, "target": target,
                 "met": None, "note": "", "command": how, "measured": False}
            )  # fmt: skip
    return out


def verdict(row: Row | dict[str, Any]) -> str:
    met = row.met if isinstance(row, Row) else row.get("met")
    target = row.target if isinstance(row, Row) else row.get("target")
    if not target:
        return ""
    if isinstance(row, dict) and row.get("measured") is False:
        return "**not measured**"
    return {True: "met", False: "**not met**", None: "not judged"}[met]


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


# set by the runner for its own folders; the JSON files keep the full command
RUNNER_ARGS = ("paths.", "hydra.run.dir=", "output_dir=", "progress=", "output=")


def shown_command(command: str) -> str:
    """The command without the runner's folder settings, short enough for a table cell."""
    kept = [a for a in shlex.split(command) if not a.startswith(RUNNER_ARGS)]
    return shlex.join(kept).replace(f"{ROOT}/", "")


def headline(figures: dict[str, Any]) -> str:
    shown = [(k, v) for k, v in figures.items() if v is not None][:HEADLINE]
    return "; ".join(f"{k} {format_value(v)}" for k, v in shown)


def load(results_dir: Path) -> list[dict[str, Any]]:
    groups = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            groups.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise SystemExit(
                f"Unreadable benchmark result '{path}': {exc}. Delete or rerun it."
            ) from None
    return groups


def render(groups: list[dict[str, Any]]) -> str:
    rows = [r for g in groups for r in g["rows"]]
    rows += missing_rows(rows)
    rows.sort(key=lambda r: SECTIONS.index(r["section"]) if r["section"] in SECTIONS else 9)
    lines = [
        "| section | measurement | figures | target | verdict | command |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        note = f" ({row['note']})" if row.get("note") else ""
        command = row["command"] if row.get("measured") is False else shown_command(row["command"])
        lines.append(
            f"| {row['section']} | {row['name']}{note} | {headline(row['figures'])} | "
            f"{row.get('target') or '-'} | {verdict(row) or '-'} | `{command}` |"
        )
    lines.append("")
    lines.append("Measured on:")
    for group in groups:
        env = group["environment"]
        commit = (env.get("git_commit") or "?")[:10] + (" (dirty)" if env.get("git_dirty") else "")
        when = f"{group['mode']}, {group['finished']}, {group['seconds']:.0f} s"
        lines.append(
            f"- `{group['group']}` ({when}): "
            f"{env.get('cpu')} x{env.get('cpu_count')}, GPU {env.get('gpu') or 'none'}, "
            f"commit {commit}, torch {env['packages'].get('torch')}, "
            f"lightning {env['packages'].get('lightning')}"
        )
    return "\n".join(lines) + "\n"


def write(settings: Settings) -> Path:
    """Rebuild RESULTS.md of this mode (and, in full mode, the README's table)."""
    groups = load(settings.results_dir)
    table = render(groups)
    title = "quick mode (a few steps each: plumbing, not accuracy)" if settings.quick else "full"
    out = settings.results_dir / "RESULTS.md"
    out.write_text(f"# nlpclf benchmark results, {title}\n\n{table}")
    if not settings.quick:
        splice_readme(ROOT / "README.md", table)
    return out


def splice_readme(readme: Path, table: str) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the {START} ... {END} markers for the results table.")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}{END}{tail}")
