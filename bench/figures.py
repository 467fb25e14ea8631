"""Every figure the benchmark reports, with its unit and the target Berth has to meet (issue 7).

A figure is measured for both systems in every run. Ratios are always Berth ÷ distribution; a
target is either a bound on that ratio or, for memory, an absolute bound on Berth's figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bench.stats import median, ratio


@dataclasses.dataclass(frozen=True)
class Target:
    """What Berth must reach: ``kind`` is "ratio_min", "ratio_max" or "berth_max"."""

    kind: str
    bound: float

    def describe(self, unit: str) -> str:
        if self.kind == "ratio_min":
            return f"≥ {self.bound:.1f}×"
        if self.kind == "ratio_max":
            return f"≤ {self.bound:.1f}×"
        return f"≤ {self.bound:g} {unit}"

    def met(self, berth: float | None, reference: float | None) -> bool | None:
        """True/False when decidable, ``None`` when a needed figure is missing."""
        if self.kind == "berth_max":
            return None if berth is None else berth <= self.bound
        value = ratio(berth, reference)
        if value is None:
            return None
        return value >= self.bound if self.kind == "ratio_min" else value <= self.bound


@dataclasses.dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    target: Target | None = None
    berth_only: bool = False  # distribution has no such endpoint (token service, Harbor API)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each scenario moves; ``--quick`` shrinks them."""

    layers: int
    layer_bytes: int
    big_bytes: int
    raw_bytes: int
    small_images: int
    small_bytes: int
    small_parallel: int
    tags: int
    duration: float  # seconds of each wrk load
    connections: tuple[int, ...]


def _size(n: int) -> str:
    if n >= 1 << 30 and n % (1 << 30) == 0:
        return f"{n >> 30} GiB"
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    return f"{n >> 10} KiB"


def figures(sizes: Sizes) -> list[Figure]:
    """The figures of one benchmark, labelled with the sizes actually used."""
    push_min, pull_min = Target("ratio_min", 1.2), Target("ratio_min", 1.0)
    layered = f"{sizes.layers}×{_size(sizes.layer_bytes)}"
    big = f"1×{_size(sizes.big_bytes)}"
    small = f"{sizes.small_images}×{_size(sizes.small_bytes)}, {sizes.small_parallel} at a time"
    out = [
        Figure("push_layers", f"skopeo push {layered}", "MiB/s", True, push_min),
        Figure("pull_layers", f"skopeo pull {layered}", "MiB/s", True, pull_min),
        Figure("push_big", f"skopeo push {big}", "MiB/s", True, push_min),
        Figure("pull_big", f"skopeo pull {big}", "MiB/s", True, pull_min),
        Figure("raw_upload", f"raw blob upload {_size(sizes.raw_bytes)} (curl)", "MiB/s", True, Target("ratio_min", 1.5)),
        Figure("raw_download", f"raw blob download {_size(sizes.raw_bytes)} (curl)", "MiB/s", True, Target("ratio_min", 1.2)),
        Figure("small_push", f"push {small}", "images/s", True, Target("ratio_min", 1.5)),
        Figure("small_pull", f"pull {small}", "images/s", True),
    ]
    for c in sizes.connections:
        out += [
            Figure(f"manifest_rps_c{c}", f"manifest GET, {c} conn", "req/s", True, Target("ratio_min", 2.0)),
            Figure(f"manifest_p50_c{c}", f"manifest GET p50, {c} conn", "ms", False),
            Figure(f"manifest_p99_c{c}", f"manifest GET p99, {c} conn", "ms", False, Target("ratio_max", 1.0)),
        ]
    out += [
        Figure("token_user_rps", "token requests, user", "req/s", True, berth_only=True),
        Figure("token_robot_rps", "token requests, robot", "req/s", True, berth_only=True),
        Figure("tag_list_ms", f"tag list first page (n=100), {sizes.tags} tags", "ms", False),
        Figure("artifact_list_ms", f"API artifact list first page, {sizes.tags} tags", "ms", False, berth_only=True),
        Figure("memory_idle", "registry RSS idle", "MiB", False),
        Figure("memory_push", f"registry RSS peak − idle, push {big}", "MiB", False, Target("berth_max", 50)),
        Figure("cpu_push", "server CPU per GiB pushed", "s/GiB", False),
        Figure("cpu_pull", "server CPU per GiB pulled", "s/GiB", False),
    ]
    return out


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the summary: medians across runs, their ratio and the verdict."""

    figure: Figure
    berth: float | None
    reference: float | None
    ratio: float | None
    met: bool | None
    runs: int  # runs in which Berth's figure was measured


def summarise(all_figures: Sequence[Figure], runs: Sequence[dict]) -> list[Row]:
    """Rows for ``all_figures`` from per-run results shaped ``{"values": {system: {key: value}}}``."""
    rows = []
    for figure in all_figures:
        berth_values = [run["values"].get("berth", {}).get(figure.key) for run in runs]
        reference_values = [run["values"].get("distribution", {}).get(figure.key) for run in runs]
        berth, reference = median(berth_values), median(reference_values)
        met = figure.target.met(berth, reference) if figure.target else None
        measured = sum(v is not None for v in berth_values)
        rows.append(Row(figure, berth, reference, ratio(berth, reference), met, measured))
    return rows
