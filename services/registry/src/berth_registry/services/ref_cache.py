"""Manifest references (a repository's tag or digest -> its artifact) cached in each process.

The pull path resolves ``<repository>:<reference>`` with one query; under load that query and its
round trip cost more than everything else the registry does for a manifest GET. This cache keeps
the answers in the process and relies on PostgreSQL to say when one may have changed: triggers on
tags, artifacts and repositories (migration 0005) NOTIFY the repository's id from the writing
transaction, so every writer is covered (the registry's pushes and deletes, core's tag and
artifact API, jobservice's retention and garbage collection, an operator's SQL). Each process
runs one listener thread on its own connection that drops the entries of every notified
repository.

Rules that keep it correct:

* Entries are stored only while the listener is connected and listening. When its connection
  is lost, everything is dropped and nothing is stored until it is back (then it reconnects).
* A lookup that went to the database stores its answer only if no invalidation of that
  repository (and no drop of everything) was processed since the lookup began (``generation``
  is read before the query), so an answer read before some commit can never outlive that
  commit's notification.
* Only answers that exist are kept: an unknown tag, digest or repository always asks the database.
* An entry lives at most ``max_age`` seconds, a bound on staleness should a notification be lost
  in a way the listener cannot notice.

Consistency window: a change committed elsewhere (another registry process or replica, core,
jobservice) is seen here once this process's listener has read the notification PostgreSQL
sends at commit: normally well under a millisecond, a few milliseconds when the process is
saturated (the listener waits for the GIL like any thread). A change this process makes is
dropped here before its response is sent.
"""

from __future__ import annotations

import os
import select
import threading
import time

import psycopg2
import structlog

from berth_registry.db import changes
from berth_registry.db.artifacts import ManifestRef

log = structlog.get_logger(__name__)

PING_SECONDS = 10.0  # a silent listen connection is checked this often
RETRY_SECONDS = (0.2, 10.0)  # first and longest wait between reconnection attempts
MAX_TRACKED_REPOSITORIES = 100_000  # invalidation marks kept before they are folded into one

Key = tuple[str, str]  # (repository name, tag or digest)


class ManifestRefCache:
    """Positive manifest lookups, trusted while this process's listener hears every change.

    ``listen_url`` None (or ``max_age`` 0) turns the cache off: nothing is stored, every
    lookup goes to the database.
    """

    def __init__(self, listen_url: str | None, max_age: float, max_entries: int, application_name: str = "berth-registry-listen") -> None:
        self.enabled = bool(listen_url) and max_age > 0 and max_entries > 0
        self.listen_url = listen_url
        self.max_age = max_age
        self.max_entries = max_entries
        self.application_name = application_name
        self._entries: dict[Key, tuple[ManifestRef, float]] = {}
        self._keys: dict[int, set[Key]] = {}  # repository id -> its cached keys
        self._generation = 0  # bumped by every invalidation
        self._invalidated: dict[int, int] = {}  # repository id -> generation of its last invalidation
        self._floor = 0  # generation of the last drop of everything
        self._live = threading.Event()
        self._lock = threading.Lock()
        self._pid = 0
        self._stop = threading.Event()
        self._wake: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None

    # -- lookups (any request thread) ----------------------------------------------------------

    def get(self, repository: str, reference: str) -> ManifestRef | None:
        """The cached answer for ``repository`` and ``reference``, or None."""
        if self._pid != os.getpid():
            self._start()
        hit = self._entries.get((repository, reference))
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def generation(self) -> int:
        """Read this before querying the database; pass it to :meth:`put` with the answer."""
        return self._generation

    def put(self, repository: str, reference: str, ref: ManifestRef, since: int) -> None:
        """Store a database answer, unless its repository changed since ``since`` was read."""
        if not self.enabled:
            return
        key = (repository, reference)
        with self._lock:
            if not self._live.is_set() or since < self._floor or self._invalidated.get(ref.repository_id, 0) > since:
                return
            self._entries.pop(key, None)  # re-inserted last: eviction is oldest first
            self._entries[key] = (ref, time.monotonic() + self.max_age)
            self._keys.setdefault(ref.repository_id, set()).add(key)
            while len(self._entries) > self.max_entries:
                oldest = next(iter(self._entries))
                evicted, _ = self._entries.pop(oldest)
                self._keys.get(evicted.repository_id, set()).discard(oldest)

    def invalidate(self, repository_id: int | None) -> None:
        """Drop what is cached for a repository (None: for every repository)."""
        with self._lock:
            self._generation += 1
            if repository_id is None or len(self._invalidated) >= MAX_TRACKED_REPOSITORIES:
                self._drop_all()
                return
            self._invalidated[repository_id] = self._generation
            for key in self._keys.pop(repository_id, ()):
                self._entries.pop(key, None)

    @property
    def live(self) -> bool:
        """Whether the listener is connected, so answers are being cached."""
        return self._live.is_set()

    def wait_live(self, timeout: float) -> bool:
        """Block until the listener listens (tests, readiness); False after ``timeout`` seconds."""
        if self._pid != os.getpid():
            self._start()
        return self._live.wait(timeout)

    def __len__(self) -> int:
        return len(self._entries)

    def _drop_all(self) -> None:
        """Forget every entry and every mark; lookups begun before now may not store (lock held)."""
        self._generation += 1
        self._floor = self._generation
        self._entries.clear()
        self._keys.clear()
        self._invalidated.clear()

    def _set_live(self, live: bool) -> None:
        with self._lock:
            # Either way, lookups that began before now may have missed a change: they must not store.
            self._drop_all()
            if live:
                self._live.set()
            else:
                self._live.clear()

    # -- the listener thread -------------------------------------------------------------------

    def _start(self) -> None:
        """Start this process's listener (gunicorn forks after loading the app; threads do not follow)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            # A forked child inherits the entries but not the listener that kept them true.
            self._live.clear()
            self._drop_all()
            if not self.enabled:
                return
            self._stop.clear()
            self._wake = os.pipe()
            self._thread = threading.Thread(target=self._run, args=(self._wake[0],), name="berth-ref-listener", daemon=True)
            self._thread.start()

    def _run(self, wake_fd: int) -> None:
        retry = RETRY_SECONDS[0]
        while not self._stop.is_set():
            try:
                conn = changes.listen(self.listen_url or "", self.application_name)
            except psycopg2.Error as exc:
                log.warning("ref_listener_unavailable", error=str(exc).strip(), retry_seconds=retry)
                self._stop.wait(retry)
                retry = min(retry * 2, RETRY_SECONDS[1])
                continue
            retry = RETRY_SECONDS[0]
            self._set_live(True)
            try:
                self._listen(conn, wake_fd)
            except Exception as exc:  # noqa: BLE001 - whatever broke, the cache must stop trusting it
                log.warning("ref_listener_lost", error=str(exc).strip() or type(exc).__name__)
            finally:
                self._set_live(False)
                conn.close()

    def _listen(self, conn: psycopg2.extensions.connection, wake_fd: int) -> None:
        """Apply notifications until stopped; raises when the connection fails."""
        while not self._stop.is_set():
            readable, _, _ = select.select([conn, wake_fd], [], [], PING_SECONDS)
            if wake_fd in readable:
                return
            if not readable:
                changes.ping(conn)
            for repository_id in changes.drain(conn):
                self.invalidate(repository_id)

    def close(self) -> None:
        """Stop this process's listener and close its connection (tests; workers just exit)."""
        self._stop.set()
        thread, wake = self._thread, self._wake
        if thread is None or wake is None or self._pid != os.getpid():
            return
        os.write(wake[1], b"x")
        thread.join(timeout=10)
        for fd in wake:
            os.close(fd)
        self._thread = self._wake = None
        self._pid = 0
