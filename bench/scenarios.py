"""What one run measures on one system: each scenario fills in figures of :mod:`bench.figures`.

Scenarios run in the same order with the same images on both systems; a run uses fresh
repository names (``bench/r<run>-...``) so nothing pushed before can be skipped or deduplicated.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import os
import shutil
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench import tools
from bench.figures import Sizes
from bench.images import MANIFEST_TYPE, Blob, Image, layout_image, write_image, write_random_blob
from bench.procs import RssSampler, cpu_seconds, process_tree
from bench.stats import GIB, MIB, mib_per_second, percentile
from bench.systems import PROJECT, Berth, System

MANIFEST_ACCEPT = f"{MANIFEST_TYPE}, application/vnd.docker.distribution.manifest.v2+json"
PUSH_TIMEOUT = 900
LIST_SAMPLES = 20  # sequential first-page requests per run; the figure is their median
TOKEN_CONNECTIONS = 4
TOKEN_MIN_SECONDS = 10.0  # a token request checks a password hash: a short load would complete too few
TAGGING_THREADS = 4
TAGGING_DEADLINE = 900


@dataclasses.dataclass(frozen=True)
class RunImages:
    """The images of one run, shared by both systems."""

    layered: Image
    big: Image
    raw: Blob
    small: tuple[Image, ...]


def make_run_images(directory: Path, sizes: Sizes) -> RunImages:
    directory.mkdir(parents=True, exist_ok=True)
    return RunImages(
        layered=layout_image(directory / "layered", sizes.layers, sizes.layer_bytes),
        big=write_image(directory / "big", [sizes.big_bytes]),
        raw=write_random_blob(directory / "raw.bin", sizes.raw_bytes),
        small=tuple(layout_image(directory / f"small{i}", 1, sizes.small_bytes) for i in range(sizes.small_images)),
    )


@dataclasses.dataclass
class Run:
    """One run on one system: what to use, and what was measured."""

    system: System
    prefix: str  # e.g. "r2": repository names of this run start with bench/r2-
    images: RunImages
    sizes: Sizes
    scratch: Path
    tag_repository: str | None
    values: dict[str, float] = dataclasses.field(default_factory=dict)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def repo(self, suffix: str) -> str:
        return f"{PROJECT}/{self.prefix}-{suffix}"

    def ref(self, repository: str, tag: str = "v1") -> str:
        return f"docker://{self.system.host}/{repository}:{tag}"

    @property
    def authfile(self) -> Path | None:
        return self.system.authfile

    def pull_dir(self, name: str) -> Path:
        path = self.scratch / f"pull-{self.system.name}-{name}"
        shutil.rmtree(path, ignore_errors=True)
        return path


QUIET_BUSY_FRACTION = 0.15  # of all CPUs, over QUIET_SAMPLE_SECONDS
QUIET_SAMPLE_SECONDS = 0.5
QUIET_MAX_WAIT_SECONDS = 60.0


def _settle() -> None:
    """Start each measurement on a quiet machine, so none pays for the previous one's aftermath:
    dirty pages flushed, and the CPUs idle (one system's background work, such as Berth's
    jobservice relaying the events of thousands of pulls, must not run during the other's
    figures). Waits at most QUIET_MAX_WAIT_SECONDS."""
    os.sync()
    wait_for_quiet()


def wait_for_quiet() -> float:
    """Wait (at most QUIET_MAX_WAIT_SECONDS) for idle CPUs; returns the last busy fraction seen."""
    deadline = time.monotonic() + QUIET_MAX_WAIT_SECONDS
    busy = busy_fraction(QUIET_SAMPLE_SECONDS)
    while busy > QUIET_BUSY_FRACTION and time.monotonic() < deadline:
        busy = busy_fraction(QUIET_SAMPLE_SECONDS)
    return busy


def busy_fraction(seconds: float) -> float:
    """Share of all CPUs' time spent busy (not idle or waiting for I/O) over ``seconds``."""

    def times() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
        # Steal (other tenants of the host) is not ours to wait for; guest time is in user already.
        return user + nice + system + irq + softirq, sum(fields[:8])

    busy_before, total_before = times()
    time.sleep(seconds)
    busy_after, total_after = times()
    return (busy_after - busy_before) / max(total_after - total_before, 1)


def layered(run: Run) -> None:
    image, repo = run.images.layered, run.repo("layers")
    _settle()
    seconds = tools.skopeo_copy(image.reference, run.ref(repo), run.authfile, PUSH_TIMEOUT)
    run.values["push_layers"] = mib_per_second(image.size, seconds)
    target = run.pull_dir("layers")
    _settle()
    seconds = tools.skopeo_copy(run.ref(repo), f"dir:{target}", run.authfile, PUSH_TIMEOUT)
    shutil.rmtree(target)
    run.values["pull_layers"] = mib_per_second(image.size, seconds)


def big(run: Run) -> None:
    """The big push and pull, with registry memory sampled and server CPU counted."""
    system, image, repo = run.system, run.images.big, run.repo("big")
    _settle()
    with RssSampler(system.registry_roots) as idle:
        time.sleep(1.0)  # ten idle samples
    idle_bytes = statistics.median(idle.samples)
    before = cpu_seconds(process_tree(system.server_roots()))
    with RssSampler(system.registry_roots) as during:
        seconds = tools.skopeo_copy(image.reference, run.ref(repo), run.authfile, PUSH_TIMEOUT)
    cpu = cpu_seconds(process_tree(system.server_roots())) - before
    run.values["push_big"] = mib_per_second(image.size, seconds)
    run.values["memory_idle"] = idle_bytes / MIB
    run.values["memory_push"] = (during.peak - idle_bytes) / MIB
    run.values["cpu_push"] = cpu / (image.size / GIB)
    run.details["memory_samples"] = len(during.samples)
    run.details["memory_peak_mib"] = during.peak / MIB

    target = run.pull_dir("big")
    _settle()
    before = cpu_seconds(process_tree(system.server_roots()))
    seconds = tools.skopeo_copy(run.ref(repo), f"dir:{target}", run.authfile, PUSH_TIMEOUT)
    cpu = cpu_seconds(process_tree(system.server_roots())) - before
    shutil.rmtree(target)
    run.values["pull_big"] = mib_per_second(image.size, seconds)
    run.values["cpu_pull"] = cpu / (image.size / GIB)


def raw(run: Run) -> None:
    blob, repo = run.images.raw, run.repo("raw")
    authorization = run.system.authorization(repo)
    _settle()
    up = tools.blob_upload(run.system.url, repo, blob.path, blob.digest, authorization, PUSH_TIMEOUT)
    run.values["raw_upload"] = mib_per_second(up.size, up.seconds)
    _settle()
    down = tools.blob_download(run.system.url, repo, blob.digest, blob.size, authorization, PUSH_TIMEOUT)
    run.values["raw_download"] = mib_per_second(down.size, down.seconds)


def _parallel(jobs: list[Callable[[], float]], workers: int) -> float:
    """Wall time of running ``jobs`` ``workers`` at a time; the first failure is raised."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()
    return time.perf_counter() - started


def small(run: Run) -> None:
    images, parallel = run.images.small, run.sizes.small_parallel
    repos = [run.repo(f"small{i}") for i in range(len(images))]
    targets = [run.pull_dir(f"small{i}") for i in range(len(images))]

    def push(i: int) -> Callable[[], float]:
        return lambda: tools.skopeo_copy(images[i].reference, run.ref(repos[i]), run.authfile, PUSH_TIMEOUT)

    def pull(i: int) -> Callable[[], float]:
        return lambda: tools.skopeo_copy(run.ref(repos[i]), f"dir:{targets[i]}", run.authfile, PUSH_TIMEOUT)

    _settle()
    run.values["small_push"] = len(images) / _parallel([push(i) for i in range(len(images))], parallel)
    _settle()
    run.values["small_pull"] = len(images) / _parallel([pull(i) for i in range(len(images))], parallel)
    for target in targets:
        shutil.rmtree(target)


def manifests(run: Run) -> None:
    """Manifest GET by tag under load, with a token checked on every request."""
    repo = run.repo("layers")
    authorization = run.system.authorization(repo, "pull")
    url = f"{run.system.url}/v2/{repo}/manifests/v1"
    headers = {"Accept": MANIFEST_ACCEPT, **({"Authorization": authorization} if authorization else {})}
    check = requests.get(url, headers=headers, timeout=10)
    if check.status_code != 200 or check.headers.get("Docker-Content-Digest") != run.images.layered.manifest_digest:
        raise tools.ToolError(f"manifest GET answered {check.status_code} with digest {check.headers.get('Docker-Content-Digest')}")
    for connections in run.sizes.connections:
        _settle()
        load = tools.wrk(url, connections, run.sizes.duration, MANIFEST_ACCEPT, authorization)
        run.values[f"manifest_rps_c{connections}"] = load.rps
        run.values[f"manifest_p50_c{connections}"] = load.p50_ms
        run.values[f"manifest_p99_c{connections}"] = load.p99_ms
        run.details[f"manifest_c{connections}"] = dataclasses.asdict(load)


def tokens(run: Run) -> None:
    """Token requests per second for the user and the robot (Berth's token service only)."""
    system = run.system
    if not isinstance(system, Berth):
        return
    chal = system.token_challenge
    assert chal is not None and system.credentials is not None
    scope = f"repository:{run.repo('layers')}:pull,push"
    url = requests.Request("GET", chal.realm, params={"service": chal.service, "scope": scope}).prepare().url
    for key, who in (("token_user_rps", system.credentials), ("token_robot_rps", system.robot)):
        if who is None:
            raise tools.ToolError("no robot account was created")
        basic = "Basic " + base64.b64encode(f"{who.username}:{who.password}".encode()).decode()
        check = requests.get(url, headers={"Authorization": basic}, timeout=30)
        if check.status_code != 200 or "token" not in check.json():
            raise tools.ToolError(f"token request for {who.username} answered {check.status_code}")
        load = tools.wrk(url, TOKEN_CONNECTIONS, max(run.sizes.duration, TOKEN_MIN_SECONDS), None, basic)
        run.values[key] = load.rps
        run.details[key] = dataclasses.asdict(load)


def _latency_ms(request: Callable[[], requests.Response], samples: int) -> tuple[float, float, requests.Response]:
    """Median and p99 latency of ``samples`` sequential calls after one warm-up; every answer must be 200."""
    last = request()
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        last = request()
        timings.append((time.perf_counter() - started) * 1000)
        if last.status_code != 200:
            raise tools.ToolError(f"{last.request.method} {last.url} answered {last.status_code}: {last.text[:200]}")
    return statistics.median(timings), percentile(timings, 0.99), last


def listing(run: Run) -> None:
    """First page of the tag list (and for Berth of the API's artifact list) of the tagged repository."""
    if run.tag_repository is None:
        raise tools.ToolError("the tagged repository was not created")
    system, repo = run.system, run.tag_repository
    session = requests.Session()
    authorization = system.authorization(repo, "pull")
    if authorization:
        session.headers["Authorization"] = authorization
    url = f"{system.url}/v2/{repo}/tags/list"
    p50, p99, last = _latency_ms(lambda: session.get(url, params={"n": 100}, timeout=60), LIST_SAMPLES)
    run.values["tag_list_ms"] = p50
    run.details["tag_list"] = {"p99_ms": p99, "tags_returned": len(last.json().get("tags") or []), "link": last.headers.get("Link")}
    if isinstance(system, Berth):
        api, auth_kind = berth_api_session(system)
        name = repo.split("/", 1)[1]
        url = f"{system.url}/api/v2.0/projects/{PROJECT}/repositories/{name}/artifacts"
        p50, p99, last = _latency_ms(lambda: api.get(url, params={"page": 1, "page_size": 100}, timeout=60), LIST_SAMPLES)
        run.values["artifact_list_ms"] = p50
        run.details["artifact_list"] = {"p99_ms": p99, "artifacts_returned": len(last.json()), "auth": auth_kind}


def berth_api_session(system: Berth) -> tuple[requests.Session, str]:
    """A session for Berth's REST API as the UI has one (login cookie), else Basic credentials.

    With Basic credentials every request pays for a password hash check, which would swamp the
    list's own cost; the kind used is recorded next to the figure.
    """
    assert system.credentials is not None
    session = requests.Session()
    answer = session.post(f"{system.url}/c/login", data={"principal": system.credentials.username,
                                                         "password": system.credentials.password}, timeout=30)  # fmt: skip
    if answer.status_code == 200 and session.cookies:
        return session, "session cookie"
    session.auth = (system.credentials.username, system.credentials.password)
    return session, "basic"


SCENARIOS: tuple[tuple[str, Callable[[Run], None]], ...] = (
    ("layered", layered),
    ("big", big),
    ("raw", raw),
    ("small", small),
    ("manifests", manifests),
    ("tokens", tokens),
    ("listing", listing),
)


def put_tag(session: requests.Session, url: str, manifest: bytes, attempts: int = 3) -> None:
    """PUT a manifest by tag; a gateway error or dropped connection is retried (a server restart is not our figure)."""
    for attempt in range(1, attempts + 1):
        try:
            answer = session.put(url, data=manifest, timeout=60)
        except requests.ConnectionError:
            if attempt == attempts:
                raise
            time.sleep(attempt)
            continue
        if answer.status_code == 201:
            return
        if answer.status_code not in (502, 503, 504) or attempt == attempts:
            raise tools.ToolError(f"tagging PUT answered {answer.status_code}: {answer.text[:200]}")
        time.sleep(attempt)


def create_tagged_repository(system: System, scratch: Path, tags: int) -> dict[str, Any]:
    """Push one small image, then tag its manifest ``tags`` times by manifest PUT (bounded in time).

    Done once per benchmark, not per run: the listing figures only read it.
    """
    repo = f"{PROJECT}/tagged"
    image = layout_image(scratch / f"tagged-{system.name}", 1, 64 * 1024)
    tools.skopeo_copy(image.reference, f"docker://{system.host}/{repo}:t00000", system.authfile, PUSH_TIMEOUT)
    manifest = (image.directory / "blobs" / "sha256" / image.manifest_digest.split(":", 1)[1]).read_bytes()
    authorization = system.authorization(repo)
    deadline = time.monotonic() + TAGGING_DEADLINE
    counter = iter(range(1, tags))
    lock = threading.Lock()

    def worker() -> None:
        session = requests.Session()
        session.headers.update({"Content-Type": MANIFEST_TYPE, **({"Authorization": authorization} if authorization else {})})
        while time.monotonic() < deadline:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            put_tag(session, f"{system.url}/v2/{repo}/manifests/t{index:05d}", manifest)
        raise tools.ToolError(f"tagging did not finish within {TAGGING_DEADLINE}s")

    seconds = _parallel([worker] * TAGGING_THREADS, TAGGING_THREADS)
    shutil.rmtree(image.directory)
    return {"repository": repo, "tags": tags, "seconds": seconds, "tags_per_second": tags / seconds}
