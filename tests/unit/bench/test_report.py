"""The stdout table, the README section and the JSON results file."""

from __future__ import annotations

import json

import pytest

from bench.figures import Figure, Row, Target
from bench.report import (
    README_END,
    README_START,
    format_value,
    markdown_table,
    readme_section,
    replace_section,
    results_filename,
    rows_json,
    text_table,
    update_readme,
    write_json,
)

UPLOAD = Figure("raw_upload", "raw blob upload 1 GiB (curl)", "MiB/s", True, Target("ratio_min", 1.5))
TOKENS = Figure("token_user_rps", "token requests, user", "req/s", True, berth_only=True)
MEMORY = Figure("memory_push", "registry RSS peak − idle", "MiB", False, Target("berth_max", 50))
ROWS = [
    Row(UPLOAD, 250.0, 177.0, 250.0 / 177.0, False, 3),
    Row(TOKENS, 1234.5, None, None, None, 3),
    Row(MEMORY, None, 2.0, None, None, 0),
]
DOCUMENT = {
    "started_at": "2026-11-27T20:42:06Z",
    "options": {"runs": 3, "quick": False},
    "machine": {"cpu_model": "AMD EPYC", "cores": 2, "memory_mib": 24105, "kernel": "6.1.0",
                "versions": {"nginx": "1.22.1", "distribution": "2.8.2", "skopeo": None}},
    "notes": ["distribution ran WITHOUT auth"],
}  # fmt: skip


@pytest.mark.parametrize(
    "value, text",
    [(None, "—"), (0.1234, "0.12"), (9.999, "10.00"), (12.345, "12.3"), (177.4, "177"), (2140.0, "2 140"), (-3.0, "-3.00")],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_text_table_lines_up_and_shows_each_verdict():
    lines = text_table(ROWS).splitlines()
    assert lines[0].split(" | ")[0].startswith("figure")
    assert [c.strip() for c in lines[0].split("|")] == ["figure", "Berth", "distribution", "ratio", "target", "met?"]
    assert set(lines[1]) <= {"-", "+"}
    upload, tokens, memory = ([c.strip() for c in line.split("|")] for line in lines[2:])
    assert upload == ["raw blob upload 1 GiB (curl) (MiB/s)", "250", "177", "1.41×", "≥ 1.5×", "NO"]
    assert tokens == ["token requests, user (req/s)", "1 234", "n/a", "—", "", ""]
    assert memory == ["registry RSS peak − idle (MiB)", "—", "2.00", "—", "≤ 50 MiB", "?"]
    # Every row has its separators at the same columns.
    assert len({line.index("|") for line in lines if "|" in line}) == 1


def test_markdown_table_and_readme_section():
    table = markdown_table(ROWS).splitlines()
    assert table[0] == "| figure | Berth | distribution | ratio | target | met? |"
    assert table[1] == "|---|---|---|---|---|---|"
    assert table[2] == "| raw blob upload 1 GiB (curl) (MiB/s) | 250 | 177 | 1.41× | ≥ 1.5× | NO |"
    section = readme_section(ROWS, DOCUMENT)
    assert "2026-11-27, median of 3 run(s)" in section
    assert "Machine: AMD EPYC, 2 cores; 24 GiB RAM; Linux 6.1.0; nginx 1.22.1, distribution 2.8.2." in section
    assert section.endswith("Notes:\n\n- distribution ran WITHOUT auth")
    assert "lower is better" in section.splitlines()[0]


def test_replace_section_touches_only_the_marked_part():
    text = f"# Title\n\nintro\n\n{README_START}\nold table\n{README_END}\n\n## After\n"
    new = replace_section(text, "new table\n")
    assert new == f"# Title\n\nintro\n\n{README_START}\nnew table\n{README_END}\n\n## After\n"
    assert replace_section(new, "new table") == new  # idempotent


@pytest.mark.parametrize(
    "text",
    ["no markers at all", f"{README_END}\n{README_START}\n", f"{README_START}\n{README_START}\n{README_END}\n", f"{README_START} only"],
)
def test_replace_section_refuses_a_readme_without_one_proper_section(text):
    with pytest.raises(ValueError, match="section"):
        replace_section(text, "table")


def test_update_readme_rewrites_the_file_in_place(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{README_START}\n{README_END}\nafter\n")
    update_readme(readme, ROWS, DOCUMENT)
    text = readme.read_text()
    assert text.startswith("before\n" + README_START + "\nLatest `make bench`")
    assert text.endswith(README_END + "\nafter\n")
    assert "| raw blob upload 1 GiB (curl) (MiB/s) | 250 |" in text
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_json_file_is_named_by_start_time_and_keeps_everything(tmp_path):
    assert results_filename("2026-11-27T20:42:06Z") == "20261127T204206Z.json"
    document = {**DOCUMENT, "runs": [{"index": 1, "values": {"berth": {"raw_upload": 250.0}}}], "summary": rows_json(ROWS)}
    path = write_json(tmp_path / "results", document)
    assert path == tmp_path / "results" / "20261127T204206Z.json"
    loaded = json.loads(path.read_text())
    assert loaded["runs"] == document["runs"]
    upload, tokens, memory = loaded["summary"]
    assert upload == {"key": "raw_upload", "label": "raw blob upload 1 GiB (curl)", "unit": "MiB/s", "berth": 250.0,
                      "distribution": 177.0, "ratio": pytest.approx(1.4124, abs=1e-4), "target": "≥ 1.5×", "met": False,
                      "berth_runs_measured": 3}  # fmt: skip
    assert tokens["distribution"] is None and tokens["target"] is None
    assert memory["met"] is None
