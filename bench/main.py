"""``python -m bench``: start both registries, run every scenario N times on each, report medians.

Order of work: check the tools, start Berth (whole stack, throwaway database) and distribution
(trusting Berth's token service), create the tagged repository on each, then for every run
generate fresh images and measure each scenario on both systems back to back, alternating which
goes first. Everything is stopped and the scratch folder removed at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench import report
from bench.auth import AuthError
from bench.cli import SCENARIO_NAMES, SYSTEMS, Options, parse_args
from bench.figures import figures, summarise
from bench.machine import machine_info
from bench.profiling import Profiler, py_spy
from bench.scenarios import QUIET_BUSY_FRACTION, SCENARIOS, Run, create_tagged_repository, make_run_images, wait_for_quiet
from bench.stats import MIB
from bench.systems import Berth, Distribution, System
from berth_deploy import infra

TOOLS = {"skopeo": "skopeo", "curl": "curl", "wrk": "wrk"}
SYSTEM_TOOLS = {"berth": {"nginx": "nginx"}, "distribution": {"docker-registry": "docker-registry"}}


def say(message: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def missing_tools(systems: tuple[str, ...]) -> list[str]:
    wanted = dict(TOOLS)
    for name in systems:
        wanted.update(SYSTEM_TOOLS[name])
    return sorted(package for binary, package in wanted.items() if shutil.which(binary) is None)


def disk_needed(options: Options) -> int:
    """Bytes the scratch folder needs at most: both registries' storage for every run, plus one run's images."""
    s = options.sizes
    per_run = s.layers * s.layer_bytes + s.big_bytes + s.raw_bytes + s.small_images * s.small_bytes
    return int(per_run * (options.runs * len(options.systems) + 2) * 1.1)


def start_systems(options: Options, workdir: Path, cleanup: contextlib.ExitStack, notes: list[str]) -> list[System]:
    systems: list[System] = []
    berth: Berth | None = None
    if "berth" in options.systems:
        admin_url = cleanup.enter_context(infra.postgres_server(os.environ.get("BERTH_BENCH_DATABASE_URL"), workdir / "infra"))
        rabbitmq_url = cleanup.enter_context(infra.rabbitmq_server(os.environ.get("BERTH_BENCH_RABBITMQ_URL"), workdir / "infra"))
        berth = Berth(workdir / "berth", admin_url, rabbitmq_url)
        cleanup.callback(berth.stop)
        say("starting Berth (berthctl up)")
        berth.start()
        try:
            berth.provision()
        except RuntimeError as exc:
            # Measure whatever of Berth works: push as admin, and let the robot figures fail.
            berth.credentials = berth.admin
            notes.append(f"Berth: benchmark user/robot could not be created ({exc}); pushed as admin")
        systems.append(berth)
    if "distribution" in options.systems:
        token_auth = berth.token_auth() if berth else None
        distribution = Distribution(workdir / "distribution")
        cleanup.callback(distribution.stop)
        say(f"starting distribution on {distribution.host} ({'token auth' if token_auth else 'no auth'})")
        try:
            distribution.start(token_auth, berth.credentials if berth else None)
        except AuthError as exc:
            distribution.stop()
            notes.append(f"distribution ran WITHOUT auth: it could not use Berth's token service ({exc})")
            distribution = Distribution(workdir / "distribution-noauth")
            cleanup.callback(distribution.stop)
            distribution.start(None, None)
        if distribution.token_challenge is not None:
            notes.append("server CPU counts Berth's registry, core (token service included) and nginx, but only distribution's own process")
        if distribution.token_challenge is None:
            if berth is None:
                notes.append("distribution ran WITHOUT auth (Berth not started, so no token service to trust)")
            notes.append("manifest GET figures of distribution include no token check")
        systems.append(distribution)
    return systems


def measure(options: Options, workdir: Path, systems: list[System], document: dict[str, Any], profiler: Profiler | None) -> None:
    setup = document["setup"]
    for system in systems if "listing" in options.scenarios else []:
        say(f"{system.name}: creating a repository with {options.sizes.tags} tags")
        try:
            setup[system.name] = create_tagged_repository(system, workdir, options.sizes.tags)
        except Exception as exc:  # noqa: BLE001 - the listing figures fail, the rest still run
            setup[system.name] = {"error": str(exc)}
            say(f"{system.name}: tagging failed: {exc}")

    for index in range(options.runs):
        images_dir = workdir / f"images-r{index + 1}"
        say(f"run {index + 1}/{options.runs}: generating images")
        images = make_run_images(images_dir, options.sizes)
        load_before = os.getloadavg()[0]
        # Each measurement waits for idle CPUs; if they never get there, something else is running.
        busy = wait_for_quiet()
        if busy > QUIET_BUSY_FRACTION:
            document["notes"].append(f"run {index + 1} started with the CPUs {busy:.0%} busy after waiting; figures are noisy")
        # Alternate who goes first, so neither system always gets the warmer page cache.
        order = systems if index % 2 == 0 else list(reversed(systems))
        runs = {s.name: Run(s, f"r{index + 1}", images, options.sizes, workdir, setup.get(s.name, {}).get("repository")) for s in systems}
        errors: dict[str, dict[str, str]] = {s.name: {} for s in systems}
        for scenario, function in SCENARIOS:
            if scenario not in options.scenarios:
                continue
            for system in order:
                started, known = time.perf_counter(), set(runs[system.name].values)
                recording = contextlib.nullcontext()
                if profiler is not None and isinstance(system, Berth):
                    recording = profiler.record(f"run{index + 1}-{scenario}", system.python_services())
                try:
                    with recording:
                        function(runs[system.name])
                except Exception as exc:  # noqa: BLE001 - one failed scenario must not hide the others
                    errors[system.name][scenario] = f"{type(exc).__name__}: {exc}"
                    say(f"run {index + 1}: {system.name} {scenario} FAILED: {exc}")
                    continue
                measured = {k: round(v, 2) for k, v in runs[system.name].values.items() if k not in known}
                say(f"run {index + 1}: {system.name} {scenario} ({time.perf_counter() - started:.0f}s) {measured}")
        document["runs"].append({
            "index": index + 1,
            "order": [s.name for s in order],
            "values": {name: run.values for name, run in runs.items()},
            "details": {name: run.details for name, run in runs.items()},
            "errors": errors,
            "load_average": {"start": load_before, "end": os.getloadavg()[0]},
        })  # fmt: skip
        shutil.rmtree(images_dir)


def derived_notes(document: dict[str, Any]) -> list[str]:
    """Notes a reader of the table needs, read from the runs' details."""
    notes = []
    for run in document["runs"][:1]:
        for name, details in run["details"].items():
            returned = details.get("tag_list", {}).get("tags_returned")
            if returned is not None and returned > 100:
                notes.append(f"{name} ignores n=100 on the tag list and returned all {returned} tags")
            auth = details.get("artifact_list", {}).get("auth")
            if auth == "basic":
                notes.append(f"{name}: artifact list read with Basic credentials (no login session): includes a password check")
    return notes


def preflight(options: Options, scratch_parent: Path) -> str | None:
    """Why the benchmark cannot start, checked before anything is started; None when it can."""
    if options.update_readme:
        if set(options.systems) != set(SYSTEMS):
            return "--update-readme needs both systems measured in the same run"
        if options.scenarios != SCENARIO_NAMES:
            return "--update-readme needs every scenario"
        try:
            report.replace_section(options.readme.read_text(), "")
        except (OSError, ValueError) as exc:
            return f"--update-readme: {options.readme}: {exc}"
    missing = missing_tools(options.systems)
    if missing:
        return f"missing tools: {', '.join(missing)}; `make bench` installs them (apt-get install {' '.join(missing)})"
    if options.profile and py_spy() is None:
        return "--profile needs py-spy: .venv/bin/pip install py-spy"
    free, needed = shutil.disk_usage(scratch_parent).free, disk_needed(options)
    if free < needed:
        return f"{scratch_parent}: {free / MIB:.0f} MiB free, the benchmark needs about {needed / MIB:.0f} MiB"
    return None


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # `kill` (or a CI timeout) stops the registries and removes the scratch folder, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scratch_parent = options.workdir or Path("/var/tmp")
    if options.workdir:
        options.workdir.mkdir(parents=True, exist_ok=True)
    problem = preflight(options, scratch_parent)
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2

    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    started = time.monotonic()
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="berth-bench-", dir=scratch_parent))
    os.chmod(workdir, 0o755)  # nginx workers (www-data) serve blobs from Berth's storage under it
    document: dict[str, Any] = {
        "started_at": started_at.isoformat().replace("+00:00", "Z"),
        "command": ["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)],
        "options": {"runs": options.runs, "quick": options.quick, "systems": list(options.systems), "profile": options.profile,
                    "sizes": dataclasses.asdict(options.sizes)},
        "machine": machine_info(),
        "systems": {},
        "notes": [],
        "setup": {},
        "runs": [],
    }  # fmt: skip
    profiler = None
    if options.profile:
        profiler = Profiler(options.results_dir / (report.results_filename(document["started_at"]).removesuffix(".json") + "-profiles"))
        document["notes"].append("profiled with py-spy: Berth's figures include the sampling overhead")
    say(f"scratch folder {workdir}")
    try:
        with contextlib.ExitStack() as cleanup:
            try:
                systems = start_systems(options, workdir, cleanup, document["notes"])
            except (RuntimeError, OSError, requests.RequestException) as exc:
                print(f"bench: could not start the registries: {exc}\n(--keep keeps {workdir} with their logs)", file=sys.stderr)
                return 1
            for system in systems:
                system.write_authfile(workdir)
            document["systems"] = {s.name: {"url": s.url, "auth": s.auth_note} for s in systems}
            measure(options, workdir, systems, document, profiler)
            say("stopping the registries")
    finally:
        if not options.keep and options.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    document["finished_at"] = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    document["duration_seconds"] = round(time.monotonic() - started, 1)
    return finish(options, document, profiler)


def finish(options: Options, document: dict[str, Any], profiler: Profiler | None) -> int:
    """Summarise, write the JSON file, print the table, update the README; 1 if any scenario failed."""
    document["notes"] += derived_notes(document)
    rows = summarise(figures(options.sizes), document["runs"])
    document["summary"] = report.rows_json(rows)
    if profiler is not None:
        document["profiles"] = {"directory": str(profiler.out_dir), "top": profiler.summaries}
    path = report.write_json(options.results_dir, document)

    for name, info in document["systems"].items():
        print(f"{name}: {info['url']} ({info['auth']})")
    for note in document["notes"]:
        print(f"note: {note}")
    print(report.text_table(rows))
    print(f"\nmedian of {options.runs} run(s); {document['duration_seconds']:.0f}s; every run in {path}")
    failures = [(run["index"], name, scenario, message) for run in document["runs"]
                for name, errs in run["errors"].items() for scenario, message in errs.items()]  # fmt: skip
    for index, name, scenario, message in failures:
        print(f"FAILED run {index} {name} {scenario}: {message}")
    if options.update_readme:
        report.update_readme(options.readme, rows, document)
        print(f"updated {options.readme}")
    return 1 if failures else 0
