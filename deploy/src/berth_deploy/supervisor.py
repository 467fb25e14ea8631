"""A small process supervisor for running Berth without containers.

It starts programs in order, waiting for each to be ready (a one-shot program must exit 0),
restarts any that exits unexpectedly (exponential backoff, reset after a minute of health), and
on SIGTERM stops them in reverse order: SIGTERM to each program's process group, then SIGKILL
after its timeout. Children also get SIGTERM from the kernel if the supervisor itself dies
(PR_SET_PDEATHSIG), so nothing of ours outlives it.

The plan (programs, their commands, environments and readiness checks) is a JSON file written
by ``berthctl up``; the state of every program is written to ``<run_dir>/state.json`` for
``berthctl status``.

    python -m berth_deploy.supervisor <plan.json>
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

PR_SET_PDEATHSIG = 1
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0


@dataclasses.dataclass
class Program:
    name: str
    argv: list[str]
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    cwd: str | None = None
    user: str | None = None  # drop to this user when running as root
    ready: dict[str, Any] | None = None  # {"tcp": "host:port"} or {"http": url} or {"exit": 0}
    ready_timeout: float = 90.0
    oneshot: bool = False
    stop_signal: str = "SIGTERM"
    stop_timeout: float = 30.0
    log: str | None = None

    # Runtime state, not part of the plan.
    process: subprocess.Popen | None = dataclasses.field(default=None, repr=False)
    restarts: int = 0
    started_at: float = 0.0
    next_start: float = 0.0
    backoff: float = 1.0
    status: str = "stopped"


def _preexec(user: str | None):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def setup() -> None:
        os.setsid()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if user and os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam(user)
            os.setgid(entry.pw_gid)
            os.initgroups(user, entry.pw_gid)
            os.setuid(entry.pw_uid)

    return setup


def is_ready(check: dict[str, Any] | None) -> bool:
    if not check:
        return True
    if "tcp" in check:
        host, _, port = check["tcp"].rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return True
        except OSError:
            return False
    if "http" in check:
        try:
            return requests.get(check["http"], timeout=2).status_code < 500
        except requests.RequestException:
            return False
    raise ValueError(f"unknown readiness check {check}")


class Supervisor:
    def __init__(self, programs: list[Program], run_dir: Path) -> None:
        self.programs = programs
        self.run_dir = run_dir
        self.stopping = False

    # -- output ---------------------------------------------------------------------------
    def say(self, message: str, **fields: Any) -> None:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "service": "supervisor", "event": message, **fields}
        print(json.dumps(line), flush=True)

    def write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "programs": [
                {
                    "name": p.name,
                    "status": p.status,
                    "pid": p.process.pid if p.process and p.process.poll() is None else None,
                    "restarts": p.restarts,
                    "started_at": p.started_at,
                    "oneshot": p.oneshot,
                }
                for p in self.programs
            ],
        }
        tmp = self.run_dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.run_dir / "state.json")

    # -- lifecycle ------------------------------------------------------------------------
    def spawn(self, program: Program) -> None:
        env = {**os.environ, **program.env}
        log = open(program.log, "ab") if program.log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
        try:
            program.process = subprocess.Popen(
                program.argv, env=env, cwd=program.cwd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_preexec(program.user)
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        program.started_at = time.time()
        program.status = "starting"
        self.say("program_started", program=program.name, pid=program.process.pid)

    def start_all(self) -> bool:
        for program in self.programs:
            if self.stopping:
                return False
            self.spawn(program)
            self.write_state()
            deadline = time.monotonic() + program.ready_timeout
            while True:
                if self.stopping:
                    return False
                code = program.process.poll()
                if program.oneshot and code is not None:
                    if code != 0:
                        program.status = f"failed ({code})"
                        self.say("oneshot_failed", program=program.name, exit_code=code)
                        return False
                    program.status = "done"
                    break
                if not program.oneshot and code is not None:
                    program.status = f"exited ({code})"
                    self.say("program_failed_to_start", program=program.name, exit_code=code)
                    return False
                if not program.oneshot and is_ready(program.ready):
                    program.status = "running"
                    break
                if time.monotonic() > deadline:
                    program.status = "not ready"
                    self.say("program_not_ready", program=program.name, timeout=program.ready_timeout)
                    return False
                time.sleep(0.2)
            self.say("program_ready", program=program.name)
            self.write_state()
        return True

    def watch(self) -> None:
        """Restart programs that exit, until asked to stop."""
        while not self.stopping:
            now = time.monotonic()
            for program in self.programs:
                if program.oneshot or program.process is None:
                    continue
                code = program.process.poll()
                if code is None:
                    if program.status == "starting" and is_ready(program.ready):
                        program.status = "running"
                        self.say("program_ready", program=program.name)
                        self.write_state()
                    elif program.status == "running" and time.time() - program.started_at > HEALTHY_AFTER:
                        program.backoff = 1.0
                    continue
                if program.status in ("running", "starting"):
                    # Leftovers of the dead program (e.g. gunicorn workers) would hold its port.
                    _signal_group(program.process.pid, signal.SIGKILL)
                    program.status = "backoff"
                    program.next_start = now + program.backoff
                    self.say("program_exited", program=program.name, exit_code=code, restart_in=program.backoff)
                    program.backoff = min(program.backoff * 2, BACKOFF_MAX)
                    self.write_state()
                elif program.status == "backoff" and now >= program.next_start:
                    program.restarts += 1
                    self.spawn(program)  # "starting" until its readiness check passes
                    self.write_state()
            time.sleep(0.2)

    def stop_all(self) -> None:
        for program in reversed(self.programs):
            process = program.process
            if process is None or process.poll() is not None:
                program.status = "stopped" if program.status != "done" else "done"
                continue
            sig = getattr(signal, program.stop_signal)
            self.say("program_stopping", program=program.name, pid=process.pid)
            _signal_group(process.pid, sig)
            try:
                process.wait(program.stop_timeout)
            except subprocess.TimeoutExpired:
                self.say("program_killed", program=program.name, pid=process.pid)
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            # Whatever the program left in its group (workers, helpers) goes too.
            _signal_group(process.pid, signal.SIGKILL)
            program.status = "stopped"
            self.write_state()

    def request_stop(self, signum: int, _frame: Any) -> None:
        self.say("stop_requested", signal=signal.Signals(signum).name)
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        (self.run_dir / "supervisor.pid").write_text(str(os.getpid()))
        try:
            ok = self.start_all()
            if ok:
                (self.run_dir / "ready").write_text(str(time.time()))
                self.say("all_programs_ready")
                self.watch()
            return 0 if ok else 1
        finally:
            self.stop_all()
            for name in ("ready", "supervisor.pid"):
                (self.run_dir / name).unlink(missing_ok=True)
            self.say("supervisor_stopped")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def load_plan(path: Path) -> tuple[list[Program], Path]:
    plan = json.loads(path.read_text())
    programs = [Program(**spec) for spec in plan["programs"]]
    return programs, Path(plan["run_dir"])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m berth_deploy.supervisor <plan.json>", file=sys.stderr)
        return 2
    programs, run_dir = load_plan(Path(args[0]))
    return Supervisor(programs, run_dir).run()


if __name__ == "__main__":
    raise SystemExit(main())
