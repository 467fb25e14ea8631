"""Argument parsing of ``python -m bench``."""

from __future__ import annotations

import pytest

from bench.cli import FULL, QUICK, SCENARIO_NAMES, parse_args


def test_defaults_are_the_full_benchmark_three_runs_both_systems():
    options = parse_args([])
    assert options.runs == 3
    assert options.sizes == FULL
    assert options.sizes.big_bytes == 1 << 30 and options.sizes.tags == 10_000 and options.sizes.connections == (1, 16, 64)
    assert options.systems == ("berth", "distribution")
    assert not options.update_readme and not options.quick and options.workdir is None


def test_quick_shrinks_sizes_and_runs_once_unless_told():
    options = parse_args(["--quick"])
    assert options.runs == 1 and options.sizes == QUICK
    assert options.sizes.big_bytes < FULL.big_bytes and options.sizes.duration < FULL.duration
    assert parse_args(["--quick", "--runs", "2"]).runs == 2


def test_overrides():
    options = parse_args(["--runs", "5", "--duration", "3.5", "--connections", "2,8", "--tags", "50",
                          "--systems", "distribution", "--update-readme", "--workdir", "/tmp/x", "--keep"])  # fmt: skip
    assert options.runs == 5
    assert (options.sizes.duration, options.sizes.connections, options.sizes.tags) == (3.5, (2, 8), 50)
    assert options.systems == ("distribution",)
    assert options.update_readme and options.keep and str(options.workdir) == "/tmp/x"


def test_scenarios_run_in_their_order_with_what_they_read():
    assert parse_args([]).scenarios == SCENARIO_NAMES
    assert parse_args(["--scenarios", "small,raw"]).scenarios == ("raw", "small")
    # manifests reads the image that layered pushes
    assert parse_args(["--scenarios", "manifests"]).scenarios == ("layered", "manifests")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--runs", "0"], "must be at least 1"),
        (["--runs", "three"], "expected a whole number"),
        (["--duration", "0"], "within (0, 300]"),
        (["--duration", "ten"], "expected a number of seconds"),
        (["--connections", "1,x"], "comma-separated whole numbers"),
        (["--connections", "0"], "within 1..1024"),
        (["--systems", "harbor"], "systems are berth, distribution"),
        (["--systems", ","], "systems are berth, distribution"),
        (["--scenarios", "small,fast"], "scenarios are layered, big"),
    ],
)
def test_bad_arguments_stop_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
