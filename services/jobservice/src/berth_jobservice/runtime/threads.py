"""Thread helpers: the job worker pool and the periodic loop every background activity runs in.

Worker threads are daemons on purpose: at shutdown the process hands unfinished tasks back (rows
to Pending, messages requeued by closing the connection) and must then be able to exit even if a
job ignores its stop signal. ``concurrent.futures`` joins its threads at exit, which would hang.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


class WorkerPool:
    """``size`` daemon threads running submitted callables in order of arrival."""

    def __init__(self, size: int, name: str = "job-worker") -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(size)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def shutdown(self) -> None:
        """Ask idle threads to exit; busy ones exit after their current callable."""
        for _ in self._threads:
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            fn = self._queue.get()
            if fn is None:
                return
            try:
                fn()
            except Exception:  # noqa: BLE001 - a worker thread must survive anything a callable does
                log.exception("worker_callable_failed")


class Loop(threading.Thread):
    """Calls ``tick()`` every ``interval`` seconds until ``stop()``; a failing tick is logged and retried.

    ``tick`` may return a number of seconds to wait instead of ``interval`` (0 = run again now).
    """

    def __init__(self, name: str, interval: float) -> None:
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self._stop_event = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def stop(self) -> None:
        self._stop_event.set()

    def sleep(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True if the loop was stopped meanwhile."""
        return self._stop_event.wait(seconds)

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                wait = self.tick()
            except Exception:  # noqa: BLE001 - keep the loop alive; the cause is in the log
                log.exception("loop_tick_failed", loop=self.name)
                wait = max(self.interval, 1.0)
            self._stop_event.wait(self.interval if wait is None else wait)
        try:
            self.finish()
        except Exception:  # noqa: BLE001 - best effort at shutdown
            log.exception("loop_finish_failed", loop=self.name)

    def tick(self) -> float | None:
        raise NotImplementedError

    def finish(self) -> None:
        """Runs once in the loop's thread after it stopped (release locks, close connections)."""
