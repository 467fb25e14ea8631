"""Statistics of the benchmark and how figures turn into table rows and verdicts."""

from __future__ import annotations

import pytest

from bench.cli import FULL
from bench.figures import Figure, Target, figures, summarise
from bench.stats import MIB, median, mib_per_second, percentile, ratio


def test_median_ignores_failed_runs_and_is_none_when_all_failed():
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0]) == 2.5
    assert median([None, None]) is None
    assert median([]) is None


def test_percentile_is_nearest_rank_so_always_an_observed_value():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.5], 0.99) == 7.5
    assert percentile([5, 1, 3], 0.0) == 1


@pytest.mark.parametrize("values, fraction", [([], 0.5), ([1.0], 1.5), ([1.0], -0.1)])
def test_percentile_rejects_nonsense(values, fraction):
    with pytest.raises(ValueError):
        percentile(values, fraction)


def test_throughput_and_ratio():
    assert mib_per_second(300 * MIB, 2.0) == 150.0
    with pytest.raises(ValueError):
        mib_per_second(MIB, 0)
    assert ratio(300.0, 200.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


def test_targets_decide_on_ratio_or_absolute_bound():
    at_least = Target("ratio_min", 1.5)
    assert at_least.met(300.0, 200.0) is True
    assert at_least.met(299.0, 200.0) is False
    assert at_least.met(None, 200.0) is None
    at_most = Target("ratio_max", 1.0)
    assert at_most.met(9.0, 10.0) is True
    assert at_most.met(11.0, 10.0) is False
    memory = Target("berth_max", 50)
    assert memory.met(49.9, None) is True  # absolute: distribution's figure is not needed
    assert memory.met(50.1, 1.0) is False
    assert memory.met(None, 1.0) is None
    assert (at_least.describe("MiB/s"), at_most.describe("ms"), memory.describe("MiB")) == ("≥ 1.5×", "≤ 1.0×", "≤ 50 MiB")


def test_figures_cover_the_issue_and_carry_its_targets():
    by_key = {f.key: f for f in figures(FULL)}
    assert by_key["push_layers"].label == "skopeo push 5×20 MiB"
    assert by_key["push_big"].label == "skopeo push 1×1 GiB"
    assert by_key["raw_upload"].target == Target("ratio_min", 1.5)
    assert by_key["raw_download"].target == Target("ratio_min", 1.2)
    assert by_key["push_big"].target == Target("ratio_min", 1.2)
    assert by_key["pull_big"].target == Target("ratio_min", 1.0)
    assert by_key["small_push"].target == Target("ratio_min", 1.5)
    assert by_key["memory_push"].target == Target("berth_max", 50)
    for c in (1, 16, 64):
        assert by_key[f"manifest_rps_c{c}"].target == Target("ratio_min", 2.0)
        assert by_key[f"manifest_p99_c{c}"].target == Target("ratio_max", 1.0)
    assert by_key["token_user_rps"].berth_only and by_key["token_robot_rps"].berth_only
    assert by_key["artifact_list_ms"].berth_only
    assert len(by_key) == len(figures(FULL))  # keys are unique


def test_summarise_takes_medians_per_system_and_judges_the_target():
    figure = Figure("raw_upload", "raw", "MiB/s", True, Target("ratio_min", 1.5))
    plain = Figure("tag_list_ms", "tags", "ms", False)
    runs = [
        {"values": {"berth": {"raw_upload": 300.0, "tag_list_ms": 5.0}, "distribution": {"raw_upload": 180.0}}},
        {"values": {"berth": {"raw_upload": 260.0}, "distribution": {"raw_upload": 200.0}}},
        {"values": {"berth": {"raw_upload": 280.0}, "distribution": {"raw_upload": 170.0}}},
    ]
    upload, tags = summarise([figure, plain], runs)
    assert (upload.berth, upload.reference, upload.runs) == (280.0, 180.0, 3)
    assert upload.ratio == pytest.approx(280 / 180)
    assert upload.met is True
    assert (tags.berth, tags.reference, tags.ratio, tags.met, tags.runs) == (5.0, None, None, None, 1)
