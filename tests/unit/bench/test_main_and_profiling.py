"""Checks made before a benchmark starts, notes derived from its runs, and py-spy profile summaries."""

from __future__ import annotations

import dataclasses

from bench.cli import parse_args
from bench.main import derived_notes, disk_needed, preflight
from bench.profiling import parse_collapsed, top_frames
from bench.report import README_END, README_START


def test_update_readme_is_checked_before_anything_starts(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no section\n")
    problem = preflight(parse_args(["--update-readme", "--readme", str(readme)]), tmp_path)
    assert problem is not None and "no section marked <!-- bench:start -->" in problem
    problem = preflight(parse_args(["--update-readme", "--systems", "distribution", "--readme", str(readme)]), tmp_path)
    assert problem == "--update-readme needs both systems measured in the same run"
    problem = preflight(parse_args(["--update-readme", "--scenarios", "small", "--readme", str(readme)]), tmp_path)
    assert problem == "--update-readme needs every scenario"
    readme.write_text(f"{README_START}\n{README_END}\n")
    assert preflight(parse_args(["--update-readme", "--readme", str(readme), "--quick"]), tmp_path) is None


def test_disk_space_is_checked_against_what_the_runs_store(tmp_path):
    full, quick = parse_args([]), parse_args(["--quick"])
    # Three runs on two systems of 1 GiB images and raw blobs: several GiB, far more than a quick run.
    assert disk_needed(full) > 6 << 30
    assert disk_needed(quick) < disk_needed(full) / 10
    assert disk_needed(parse_args(["--runs", "6"])) > disk_needed(full)
    huge = dataclasses.replace(full, sizes=dataclasses.replace(full.sizes, big_bytes=1 << 60))
    assert "MiB free, the benchmark needs about" in preflight(huge, tmp_path)


def test_derived_notes_flag_an_ignored_page_size_and_basic_auth_listing():
    document = {"runs": [{"details": {
        "distribution": {"tag_list": {"tags_returned": 10000}},
        "berth": {"tag_list": {"tags_returned": 100}, "artifact_list": {"auth": "basic"}},
    }}]}  # fmt: skip
    notes = derived_notes(document)
    assert notes == [
        "distribution ignores n=100 on the tag list and returned all 10000 tags",
        "berth: artifact list read with Basic credentials (no login session): includes a password check",
    ]
    assert derived_notes({"runs": []}) == []


COLLAPSED = """\
process 1;Thread.run (threading.py:982);get_manifest (berth_registry/api/manifests.py:18);execute (db.py:35) 60
process 1;Thread.run (threading.py:982);get_manifest (berth_registry/api/manifests.py:18);emit (logging.py:1) 20
process 1;Thread.run (threading.py:982);select (selectors.py:468) 20
garbage line
"""


def test_collapsed_stacks_are_summed_per_frame():
    total, own, inclusive = parse_collapsed(COLLAPSED.splitlines())
    assert total == 100
    assert own["execute (db.py:35)"] == 60 and own["select (selectors.py:468)"] == 20
    assert inclusive["Thread.run (threading.py:982)"] == 100
    assert inclusive["get_manifest (berth_registry/api/manifests.py:18)"] == 80


def test_top_frames_reports_percentages_and_berth_frames_only_when_inclusive(tmp_path):
    path = tmp_path / "x.collapsed"
    path.write_text(COLLAPSED)
    summary = top_frames(path, top=2)
    assert summary["samples"] == 100
    assert summary["self"] == [[60.0, "execute (db.py:35)"], [20.0, "emit (logging.py:1)"]]
    assert summary["inclusive"] == [[80.0, "get_manifest (berth_registry/api/manifests.py:18)"]]
    empty = tmp_path / "empty.collapsed"
    empty.write_text("")
    assert top_frames(empty) == {"samples": 0, "self": [], "inclusive": []}
