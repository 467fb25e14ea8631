"""Output of a benchmark: the stdout table, the JSON results file and the README section."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.figures import Row

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"
HEADERS = ("figure", "Berth", "distribution", "ratio", "target", "met?")


def format_value(value: float | None) -> str:
    """Three significant digits or so, never scientific notation; "—" for a missing figure."""
    if value is None:
        return "—"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}".replace(",", " ")
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cells(row: Row) -> tuple[str, ...]:
    figure = row.figure
    reference = "n/a" if figure.berth_only else format_value(row.reference)
    ratio = "—" if row.ratio is None else f"{row.ratio:.2f}×"
    target = figure.target.describe(figure.unit) if figure.target else ""
    if figure.target is None:
        met = ""
    elif row.met is None:
        met = "?"  # a target exists but a figure it needs is missing
    else:
        met = "yes" if row.met else "NO"
    return (f"{figure.label} ({figure.unit})", format_value(row.berth), reference, ratio, target, met)


def text_table(rows: Sequence[Row]) -> str:
    """The table printed on stdout, columns padded to line up."""
    lines = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    out = []
    for index, line in enumerate(lines):
        cells = [cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)]
        out.append(" | ".join(cells).rstrip())
        if index == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in _cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(machine: dict[str, Any]) -> str:
    """One sentence naming the machine and the software versions a result came from."""
    versions = machine.get("versions", {})
    parts = [
        f"{machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores",
        f"{machine.get('memory_mib', 0) / 1024:.0f} GiB RAM",
        f"Linux {machine.get('kernel', '?')}",
    ]
    soft = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
    return "; ".join(parts) + (f"; {soft}" if soft else "")


def readme_section(rows: Sequence[Row], document: dict[str, Any]) -> str:
    """The text that goes between the README markers."""
    options = document["options"]
    notes = document.get("notes", [])
    lines = [
        f"Latest `make bench` ({document['started_at'][:10]}, median of {options['runs']} run(s)"
        f"{', quick sizes' if options['quick'] else ''}; ratio = Berth ÷ distribution, so for ms, MiB and s/GiB lower is better):",
        "",
        markdown_table(rows),
        "",
        f"Machine: {machine_line(document['machine'])}.",
    ]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines)


def replace_section(text: str, section: str) -> str:
    """``text`` with everything between the bench markers replaced by ``section``.

    Raises ValueError when the markers are missing or out of order, so a README is never
    rewritten anywhere but inside its marked section.
    """
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"README has no section marked {README_START} … {README_END}; add the two lines where the table belongs")
    if text.count(README_START) != 1 or text.count(README_END) != 1:
        raise ValueError("README must contain exactly one bench section")
    return text[: start + len(README_START)] + "\n" + section.strip("\n") + "\n" + text[end:]


def update_readme(path: Path, rows: Sequence[Row], document: dict[str, Any]) -> None:
    text = path.read_text()
    new = replace_section(text, readme_section(rows, document))
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def results_filename(started_at: str) -> str:
    """A sortable file name from an ISO timestamp: 2026-11-27T20:42:06Z -> 20261127T204206Z.json."""
    return re.sub(r"[^0-9TZ]", "", started_at) + ".json"


def write_json(directory: Path, document: dict[str, Any]) -> Path:
    """Write the full results document under ``directory`` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / results_filename(document["started_at"])
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path


def rows_json(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [
        {
            "key": row.figure.key,
            "label": row.figure.label,
            "unit": row.figure.unit,
            "berth": row.berth,
            "distribution": None if row.figure.berth_only else row.reference,
            "ratio": row.ratio,
            "target": row.figure.target.describe(row.figure.unit) if row.figure.target else None,
            "met": row.met,
            "berth_runs_measured": row.runs,
        }
        for row in rows
    ]
