"""The workers part: worker processes as rows: registration, heartbeats, who is alive."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

from doorways_tui.store.claims import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_STALE_AFTER,
    Claims,
    pid_running,
    this_machine,
)
from doorways_tui.store.context import StoreContext
from doorways_tui.store.db import StoreError
from doorways_tui.store.files import remove_quietly, stale_temp_files
from doorways_tui.store.records import WorkerInfo

WORKER_STATES = ("starting", "idle", "running", "stopping", "stopped")

# A worker writes each file in well under a second; a temporary file this old that names no
# live worker was left by a killed one.
TEMP_SWEEP_AFTER = 600.0


# Stopped or dead workers silent this long are forgotten when a worker starts (and hidden
# by ``status``, which only looks): rows of processes long gone would pile up otherwise.
FORGET_WORKERS_AFTER_S = 3600


class Workers:
    """Worker rows. ``lib.workers``; registering gives back what a previous process of the
    same worker id still held (through the claims part)."""

    def __init__(self, ctx: StoreContext, claims: Claims) -> None:
        self._ctx = ctx
        self._db = ctx.db
        self._claims = claims

    def register(
        self,
        worker_id: str,
        *,
        device: str,
        pid: int | None = None,
        host: str | None = None,
        machine: str | None = None,
        log_path: str | None = None,
    ) -> WorkerInfo:
        """Record a worker starting (or restarting under the same id: jobs still running
        under that id belonged to its previous process, and go back to the queue now).

        ``host`` is the name shown; ``machine`` says whose pids ``pid`` is among (this
        process's ``this_machine()`` unless told; just ``host`` when only that is told)."""
        if machine is None:
            machine = this_machine() if host is None else host
        now = self._ctx.clock()
        with self._db.write() as conn:
            self._claims.requeue(
                conn,
                "worker_id = ?",
                [worker_id],
                reason="worker gone",
                max_attempts=DEFAULT_MAX_ATTEMPTS,
            )
            conn.execute(
                "INSERT INTO workers(id, pid, host, machine, device, started, heartbeat, state,"
                " log_path) VALUES (?, ?, ?, ?, ?, ?, ?, 'starting', ?)"
                " ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, host = excluded.host,"
                " machine = excluded.machine,"
                " device = excluded.device, started = excluded.started,"
                " heartbeat = excluded.heartbeat, state = 'starting', current_job = NULL,"
                " log_path = excluded.log_path",
                (
                    worker_id,
                    os.getpid() if pid is None else pid,
                    host or socket.gethostname(),
                    machine,
                    device,
                    now,
                    now,
                    log_path,
                ),
            )
            self._ctx.event(conn, "worker_started", worker_id=worker_id, device=device)
        return self.get(worker_id)

    def heartbeat(
        self, worker_id: str, job_id: int | None = None, *, lease: int | None = None
    ) -> bool:
        """Refresh the worker's heartbeat, and its job's if it has one. Returns False when
        that job is no longer running on this worker (cancelled, or taken back), or (given
        the lease of its claim) no longer on that claim."""
        now = self._ctx.clock()
        with self._db.write() as conn:
            conn.execute("UPDATE workers SET heartbeat = ? WHERE id = ?", (now, worker_id))
            if job_id is None:
                return True
            sql = "UPDATE jobs SET heartbeat = ? WHERE id = ? AND worker_id = ? AND status = 'running'"
            params: list[object] = [now, job_id, worker_id]
            if lease is not None:
                sql += " AND lease = ?"
                params.append(lease)
            n = conn.execute(sql, params).rowcount
        return n > 0

    def sweep_temp_files(self, *, older_than: float = TEMP_SWEEP_AFTER) -> list[Path]:
        """Remove the temporary files that killed workers left in the library (older than
        ``older_than`` seconds, named after no live worker); returns those removed."""
        live = [w.id for w in self.all() if w.alive]
        stale = stale_temp_files(
            self._ctx.root, older_than=older_than, now=time.time(), live_workers=live
        )
        for path in stale:
            remove_quietly(path)
        return stale

    def set_state(self, worker_id: str, state: str) -> None:
        assert state in WORKER_STATES, state
        with self._db.write() as conn:
            conn.execute(
                "UPDATE workers SET state = ?, heartbeat = ?,"
                " current_job = CASE WHEN ? IN ('idle', 'stopped') THEN NULL ELSE current_job END"
                " WHERE id = ?",
                (state, self._ctx.clock(), state, worker_id),
            )
            if state == "stopped":
                self._ctx.event(conn, "worker_stopped", worker_id=worker_id)

    def get(self, worker_id: str, *, stale_after: float = DEFAULT_STALE_AFTER) -> WorkerInfo:
        row = self._db.row("SELECT * FROM workers WHERE id = ?", (worker_id,))
        if row is None:
            raise StoreError(f"no worker {worker_id}")
        return self._worker_info(row, stale_after)

    def all(
        self,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        include_stopped: bool = False,
        seen_within: float | None = 7 * 86400,
    ) -> list[WorkerInfo]:
        """Workers, newest first, each marked alive when its heartbeat is fresh and (on
        this machine) its process exists."""
        now = self._ctx.clock()
        sql, params = "SELECT * FROM workers WHERE 1", []
        if not include_stopped:
            sql += " AND state != 'stopped'"
        if seen_within is not None:
            sql += " AND heartbeat >= ?"
            params.append(now - seen_within)
        rows = self._db.rows(sql + " ORDER BY started DESC", params)
        return [self._worker_info(row, stale_after) for row in rows]

    def prune(self, *, older_than: float = 0.0) -> list[str]:
        """Delete the rows of stopped workers and dead ones (this machine, process gone)
        whose last heartbeat is at least ``older_than`` seconds old. Returns their ids."""
        cutoff = self._ctx.clock() - older_than
        gone = [
            w.id
            for w in self.all(include_stopped=True, seen_within=None)
            if (w.state == "stopped" or w.dead) and w.heartbeat <= cutoff
        ]
        if gone:
            marks = ",".join("?" * len(gone))
            with self._db.write() as conn:
                conn.execute(f"DELETE FROM workers WHERE id IN ({marks})", gone)
                self._ctx.event(conn, "workers_pruned", worker_ids=gone)
        return gone

    def registered(self, worker_id: str) -> bool:
        """Whether a worker with this id has a row yet (a started worker has registered)."""
        return self._db.row("SELECT 1 FROM workers WHERE id = ?", (worker_id,)) is not None

    def _worker_info(self, row: sqlite3.Row, stale_after: float) -> WorkerInfo:
        data = dict(row)
        alive = row["state"] != "stopped" and row["heartbeat"] >= self._ctx.clock() - stale_after
        dead = False
        # Only a pid on this machine can be checked (an older library read-only has no
        # ``machine``; a row from before it had one is judged by its heartbeat).
        if row["state"] != "stopped" and data.get("machine") == this_machine():
            dead = not pid_running(row["pid"])
            alive = alive and not dead
        if dead:
            # Whatever job it had is not its any more (it is requeued once stale, and may
            # be running on another worker): never show that job's progress as its own.
            data["current_job"] = None
        return WorkerInfo.from_row({**data, "alive": alive, "dead": dead})
