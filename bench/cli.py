"""Command line of ``python -m bench``: options and the sizes they select."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from bench.figures import Sizes

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("berth", "distribution")
# In the order they run; each reads only what it pushes itself, except that manifests and
# listing read the image layered pushes (so choosing them runs layered too).
SCENARIO_NAMES = ("layered", "big", "raw", "small", "manifests", "tokens", "listing")
NEEDS = {"manifests": "layered", "listing": "layered"}
MIB = 1 << 20

FULL = Sizes(
    layers=5, layer_bytes=20 * MIB, big_bytes=1024 * MIB, raw_bytes=1024 * MIB,
    small_images=20, small_bytes=1 * MIB, small_parallel=4, tags=10_000, duration=10.0, connections=(1, 16, 64),
)  # fmt: skip
QUICK = Sizes(
    layers=5, layer_bytes=1 * MIB, big_bytes=64 * MIB, raw_bytes=64 * MIB,
    small_images=8, small_bytes=256 * 1024, small_parallel=4, tags=300, duration=2.0, connections=(1, 16, 64),
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Options:
    runs: int
    quick: bool
    sizes: Sizes
    systems: tuple[str, ...]
    update_readme: bool
    readme: Path
    results_dir: Path
    workdir: Path | None
    keep: bool
    profile: bool
    scenarios: tuple[str, ...] = SCENARIO_NAMES


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"must be within (0, 300] seconds, got {value:g}")
    return value


def _connections(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or any(not 1 <= v <= 1024 for v in values):
        raise argparse.ArgumentTypeError(f"each connection count must be within 1..1024, got {text!r}")
    return values


def _systems(text: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [v for v in values if v not in SYSTEMS]
    if not values or unknown:
        raise argparse.ArgumentTypeError(f"systems are {', '.join(SYSTEMS)}; got {text!r}")
    return values


def _scenarios(text: str) -> tuple[str, ...]:
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(chosen - set(SCENARIO_NAMES))
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"scenarios are {', '.join(SCENARIO_NAMES)}; got {text!r}")
    chosen |= {NEEDS[name] for name in chosen if name in NEEDS}
    return tuple(name for name in SCENARIO_NAMES if name in chosen)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark Berth (whole stack, token auth, through nginx) against CNCF distribution, side by side.",
    )
    p.add_argument("--runs", type=_positive_int, help="runs per figure; the table shows the median (default 3, --quick 1)")
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes, short loads, one run")
    p.add_argument("--duration", type=_positive_float, help="seconds of each wrk load (default 10, --quick 2)")
    p.add_argument("--connections", type=_connections, help="manifest GET connection counts (default 1,16,64)")
    p.add_argument("--tags", type=_positive_int, help="tags in the tag-list repository (default 10000, --quick 300)")
    p.add_argument("--systems", type=_systems, default=SYSTEMS, help="which systems to measure (default berth,distribution)")
    p.add_argument("--scenarios", type=_scenarios, default=SCENARIO_NAMES,
                   help=f"which scenarios to run (default all: {','.join(SCENARIO_NAMES)})")
    p.add_argument("--update-readme", action="store_true", help="rewrite the marked bench section of README.md")
    p.add_argument("--readme", type=Path, default=ROOT / "README.md", help=argparse.SUPPRESS)
    p.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results", help="where the JSON file goes")
    p.add_argument("--workdir", type=Path, help="scratch folder, left in place (default: a temporary one, removed afterwards)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, storage) after the run")
    p.add_argument("--profile", action="store_true", help="record Berth's registry and core with py-spy during every scenario")
    return p


def parse_args(argv: list[str] | None = None) -> Options:
    args = parser().parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = dataclasses.replace(
        base,
        duration=args.duration if args.duration is not None else base.duration,
        connections=args.connections or base.connections,
        tags=args.tags or base.tags,
    )
    return Options(
        runs=args.runs or (1 if args.quick else 3),
        quick=args.quick,
        sizes=sizes,
        systems=args.systems,
        update_readme=args.update_readme,
        readme=args.readme,
        results_dir=args.results_dir,
        workdir=args.workdir,
        keep=args.keep,
        profile=args.profile,
        scenarios=args.scenarios,
    )
