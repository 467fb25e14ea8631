"""The local supervisor: ordered start, restart after a crash, clean stop leaving nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from berth_deploy.infra import free_port, port_open, wait_for


def server_program(name: str, port: int, tmp_path: Path) -> dict:
    # A program that also forks a child into its group, as gunicorn does with its workers.
    code = (
        "import http.server, os, socketserver, sys\n"
        "os.fork() or __import__('time').sleep(3600)\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler).serve_forever()\n"
    )
    return {"name": name, "argv": [sys.executable, "-c", code], "ready": {"tcp": f"127.0.0.1:{port}"},
            "log": str(tmp_path / f"{name}.out"), "stop_timeout": 5}  # fmt: skip


def start(tmp_path: Path, programs: list[dict]) -> subprocess.Popen:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"run_dir": str(tmp_path), "programs": programs}))
    return subprocess.Popen([sys.executable, "-m", "berth_deploy.supervisor", str(plan)], stdout=subprocess.PIPE, text=True)


def state(tmp_path: Path) -> dict:
    return {p["name"]: p for p in json.loads((tmp_path / "state.json").read_text())["programs"]}


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_restarts_a_crashed_program_and_stops_everything(tmp_path):
    ports = [free_port(), free_port()]
    oneshot = {"name": "setup", "argv": [sys.executable, "-c", "print('migrated')"], "oneshot": True}
    supervisor = start(tmp_path, [server_program("first", ports[0], tmp_path), oneshot, server_program("second", ports[1], tmp_path)])
    try:
        wait_for(lambda: (tmp_path / "ready").exists(), 30, "supervisor ready")
        before = state(tmp_path)
        assert before["setup"]["status"] == "done"
        victim = before["second"]["pid"]
        os.kill(victim, signal.SIGKILL)
        restarted = lambda: state(tmp_path)["second"]["restarts"] == 1 and state(tmp_path)["second"]["pid"] not in (None, victim)  # noqa: E731
        wait_for(restarted, 20, "restart")
        wait_for(lambda: port_open("127.0.0.1", ports[1]), 10, "restarted program serving")
        groups = [p["pid"] for p in state(tmp_path).values() if p["pid"]]
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(30)
    assert supervisor.returncode == 0
    assert not (tmp_path / "supervisor.pid").exists()
    deadline = time.monotonic() + 5
    while any(group_alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(group_alive(g) for g in groups), "a program's process group outlived the supervisor"
    assert not any(port_open("127.0.0.1", p) for p in ports)


def test_a_failing_oneshot_aborts_the_start(tmp_path):
    port = free_port()
    failing = {"name": "migrations", "argv": [sys.executable, "-c", "raise SystemExit(3)"], "oneshot": True}
    supervisor = start(tmp_path, [server_program("first", port, tmp_path), failing, server_program("never", free_port(), tmp_path)])
    out, _ = supervisor.communicate(timeout=30)
    assert supervisor.returncode == 1
    assert "oneshot_failed" in out and '"exit_code": 3' in out
    assert state(tmp_path)["never"]["status"] == "stopped"
    assert not port_open("127.0.0.1", port)


def test_children_die_with_the_supervisor(tmp_path):
    port = free_port()
    supervisor = start(tmp_path, [server_program("only", port, tmp_path)])
    wait_for(lambda: (tmp_path / "ready").exists(), 30, "supervisor ready")
    child = state(tmp_path)["only"]["pid"]
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait(10)
    try:
        # The kernel delivers SIGTERM to the direct child (PR_SET_PDEATHSIG).
        wait_for(lambda: not port_open("127.0.0.1", port), 10, "child stopped serving")
    finally:
        # Its forked helper is not covered by PDEATHSIG (gunicorn workers notice their parent is gone).
        if group_alive(child):
            os.killpg(child, signal.SIGKILL)
