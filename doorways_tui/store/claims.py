"""The claims part: the queue as a worker sees it: claim, report progress, checkpoint, finish, fail, release.

Every write a worker makes about a job checks that the job is still ``running`` and still
its own (``_owned``: its worker id and, from a worker, the lease of its claim). A job
cancelled by the artist, or taken back because this worker's heartbeat went stale or its
process is gone, makes those writes return False, and the worker drops the job. So two
workers never both finish one job, even if a "dead" worker comes back to life.

A worker writes its files (final, preview, checkpoint) under a temporary name of its own
(``files.staged_path``) and hands that name to the store, which moves the file into place in
the same ``BEGIN IMMEDIATE`` transaction that checks ownership and records it, or removes
it. A worker frozen while another took its job over therefore never replaces a file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from doorways_tui.store.context import StoreContext
from doorways_tui.store.files import numbered_relpath, remove_quietly
from doorways_tui.store.queue import config_problem
from doorways_tui.store.records import Image, Job
from doorways_tui.store.rules import claim_order

DEFAULT_STALE_AFTER = 60.0
DEFAULT_MAX_ATTEMPTS = 5

# Why a running job went back to the queue: the event's reason, and the error it ends with
# once it has used up its attempts ("... 5 times; retry to try again").
_REQUEUE_REASONS = {
    "stale": "its worker stopped responding",
    "worker gone": "its worker's process ended",
    "worker exited": "its worker exited before finishing it",
}


def pid_running(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): the kill above is all we know
    return state != "Z"


def this_machine() -> str:
    """Who can check this process's pids: the host name, plus (where /proc says) the boot
    and the pid namespace. Containers sharing a host name (host-network pods, cloned VMs)
    differ in those, so they never read each other's live pids as dead."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append("boot=" + Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(f"pidns={os.stat('/proc/self/ns/pid').st_ino}")
    return "/".join(parts)


@dataclass(frozen=True, slots=True)
class JobControl:
    """What a worker needs before each step about one of its jobs (``Claims.control``)."""

    status: str
    owned: bool  # still running on this worker's claim
    steps: int | None  # the stored step target (raised when the artist extends the run)


def _owned_where(job_id: int, worker_id: str, lease: int | None) -> tuple[str, list[object]]:
    """The rows a worker may write: its job, still running, still on its claim."""
    sql, params = "id = ? AND worker_id = ? AND status = 'running'", [job_id, worker_id]
    if lease is not None:
        sql += " AND lease = ?"
        params.append(lease)
    return sql, params


@contextlib.contextmanager
def _never_left(staged: Path | None) -> Iterator[None]:
    """A staged file is moved into place by the body, or removed: never left behind."""
    try:
        yield
    finally:
        if staged is not None:
            remove_quietly(staged)


class Claims:
    """What workers do to jobs: claim, report, finish, fail, give back. ``lib.claims``;
    raw SQL throughout (each write checks ownership and lease in one statement)."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._db = ctx.db

    def claim_job(
        self,
        worker_id: str,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        like: Mapping[str, object] | None = None,
        defaults: Mapping[str, object] | None = None,
    ) -> Job | None:
        """Take the next queued job (highest priority, then oldest; ``rules.claim_order``)
        that no stop rule holds, for this worker, after requeueing jobs whose worker
        stopped heartbeating. Atomic across processes.

        ``like`` limits the claim to jobs whose config has these values (a batch key:
        same size and models), so a worker can fill a batch; a key a config leaves out
        counts as its value in ``defaults``.

        A job whose stored config cannot run (malformed JSON such as an older writer's
        ``NaN``, or a value out of range) is failed on the spot with the reason, and the
        claim goes on to the next one: one bad row never stops a worker."""
        match, params = "", []
        for key, value in (like or {}).items():
            if not key.isidentifier():
                raise ValueError(f"bad config key {key!r}")
            # json_extract on a malformed row raises for the whole query: test it first.
            match += (
                f" AND COALESCE(CASE WHEN json_valid(config)"
                f" THEN json_extract(config, '$.{key}') END, ?) IS ?"
            )
            params += [(defaults or {}).get(key), value]
        with self._db.write() as conn:
            self._requeue_orphans(conn, stale_after=stale_after, max_attempts=max_attempts)
            now = self._ctx.clock()
            order = claim_order(conn)  # early previews first, or not: store/rules.py
            while True:
                found = conn.execute(
                    "SELECT id, config FROM jobs WHERE status = 'queued'"
                    " AND held IS NULL"  # a stop rule holds it (store/rules.py)
                    + match
                    + f" ORDER BY {order} LIMIT 1",
                    params,
                ).fetchone()
                if found is None:
                    return None
                problem = config_problem(found["config"])
                if problem is None:
                    break
                self._fail_unrunnable(conn, found["id"], worker_id, problem, now)
            row = conn.execute(
                "UPDATE jobs SET status = 'running', worker_id = ?, attempts = attempts + 1, lease = lease + 1,"
                " heartbeat = ?, started = COALESCE(started, ?), error = NULL"
                " WHERE id = ? RETURNING *",
                (worker_id, now, now, found["id"]),
            ).fetchone()
            job = Job.from_row(row)
            conn.execute(
                "UPDATE workers SET state = 'running', current_job = ?, heartbeat = ? WHERE id = ?",
                (job.id, now, worker_id),
            )
            self._ctx.event(
                conn, "job_claimed", job_id=job.id, worker_id=worker_id, attempt=job.attempts
            )
        return job

    def _fail_unrunnable(
        self, conn: sqlite3.Connection, job_id: int, worker_id: str, problem: str, now: float
    ) -> None:
        """Fail a queued job whose config cannot run; it never counts as an attempt."""
        error = f"its stored settings cannot run: {problem}"
        conn.execute(
            "UPDATE jobs SET status = 'failed', error = ?, finished = ? WHERE id = ?",
            (error, now, job_id),
        )
        self._ctx.event(conn, "job_failed", job_id=job_id, worker_id=worker_id, error=error)

    def requeue_stale(
        self,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> list[int]:
        """Put running jobs whose worker is gone back in the queue (or fail them after
        ``max_attempts``); returns their ids. Gone: its heartbeat is older than
        ``stale_after``, or it ran on this machine (``this_machine``) and its process no
        longer exists."""
        with self._db.write() as conn:
            return self._requeue_orphans(conn, stale_after=stale_after, max_attempts=max_attempts)

    def _requeue_orphans(
        self, conn: sqlite3.Connection, *, stale_after: float, max_attempts: int
    ) -> list[int]:
        ids = []
        if gone := self._gone_workers(conn):
            ids = self._requeue_workers(conn, gone, max_attempts=max_attempts)
        cutoff = self._ctx.clock() - stale_after
        return ids + self.requeue(
            conn,
            "heartbeat IS NULL OR heartbeat < ?",
            [cutoff],
            reason="stale",
            max_attempts=max_attempts,
        )

    def requeue_gone(self, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> list[int]:
        """Requeue at once the running jobs whose worker ran on this machine and whose
        process is gone (what the app's poll calls, so a kill -9 does not leave a job
        "running" until its heartbeat goes stale). A plain read first: the write lock is
        taken only when there is something to requeue. A library open read-only only
        looks: it returns [] and writes nothing."""
        if self._db.readonly or not self._gone_workers(None):
            return []
        with self._db.write() as conn:
            gone = self._gone_workers(conn)  # again, inside the transaction
            if not gone:
                return []
            return self._requeue_workers(conn, gone, max_attempts=max_attempts)

    def _requeue_workers(
        self, conn: sqlite3.Connection, workers: Iterable[str], *, max_attempts: int
    ) -> list[int]:
        workers = list(workers)
        marks = ",".join("?" * len(workers))
        return self.requeue(
            conn,
            f"worker_id IN ({marks})",
            list(workers),
            reason="worker gone",
            max_attempts=max_attempts,
        )

    def gone_workers(self) -> dict[str, int]:
        """Workers (id -> pid) with a running job that ran on this machine and whose process
        is gone: a plain read, so a read-only look (``status``, ``queue list``) can say that
        their jobs are not really running (a writer requeues them)."""
        return self._gone_workers(None)

    def _gone_workers(self, conn: sqlite3.Connection | None) -> dict[str, int]:
        """Workers with a running job that ran on this machine and whose process is gone (a
        kill -9, a second Ctrl-C, a crash during model load): no need to wait for their
        heartbeat to go stale. A worker elsewhere, even under the same host name, has pids
        this process cannot see: only its heartbeat says it is gone. Without ``conn`` it
        reads outside any transaction."""
        sql = (
            "SELECT DISTINCT w.id, w.pid FROM workers w JOIN jobs j ON j.worker_id = w.id"
            " WHERE j.status = 'running' AND w.machine = ?"
        )
        params = (this_machine(),)
        rows = self._db.rows(sql, params) if conn is None else conn.execute(sql, params).fetchall()
        return {worker_id: pid for worker_id, pid in rows if not pid_running(pid)}

    def requeue(
        self,
        conn: sqlite3.Connection,
        where: str,
        params: list[object],
        *,
        reason: str,
        max_attempts: int,
    ) -> list[int]:
        """Put the running jobs matching ``where`` back in the queue, from their checkpoint,
        inside the caller's transaction (the workers part uses it when a worker id comes
        back); the attempt counts, so a job that keeps losing its worker ends failed."""
        now = self._ctx.clock()
        rows = conn.execute(
            "UPDATE jobs SET"
            " status = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' END,"
            " error = CASE WHEN attempts >= ?"
            "   THEN ? || ' ' || attempts || ' times; retry to try again' ELSE error END,"
            " finished = CASE WHEN attempts >= ? THEN ? ELSE NULL END,"
            " step = COALESCE(checkpoint_step, 0), worker_id = NULL, heartbeat = NULL,"
            " it_per_s = NULL, eta_s = NULL"
            f" WHERE status = 'running' AND ({where})"
            " RETURNING id, status, checkpoint_step",
            (max_attempts, max_attempts, _REQUEUE_REASONS[reason], max_attempts, now, *params),
        ).fetchall()
        for row in rows:
            self._ctx.event(
                conn, "job_requeued", job_id=row[0], reason=reason, status=row[1], from_step=row[2]
            )
        return [r[0] for r in rows]

    def abandon_jobs(
        self,
        worker_id: str,
        leases: Mapping[int, int],
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> list[int]:
        """A worker leaving in a hurry (a second signal, a crash) gives back the jobs it
        still holds (job id -> lease), at once rather than when its heartbeat goes stale.
        Unlike ``release_job`` the attempt counts: the job may be what brought it down."""
        if not leases:
            return []
        pairs = " OR ".join("(id = ? AND lease = ?)" for _ in leases)
        params: list[object] = [worker_id]
        for job_id, lease in leases.items():
            params += [job_id, lease]
        with self._db.write() as conn:
            ids = self.requeue(
                conn,
                f"worker_id = ? AND ({pairs})",
                params,
                reason="worker exited",
                max_attempts=max_attempts,
            )
            self._worker_after_job(conn, worker_id, self._ctx.clock())
        return ids

    # -- while running --------------------------------------------------------------------

    def control(self, worker_id: str, leases: Mapping[int, int]) -> dict[int, JobControl]:
        """One read for a worker's whole batch (job id -> lease of its claim), cheap enough
        to make before every step: whether each job is still its own (a cancel shows at
        the next step, not the next heartbeat) and its current step target. A job that no
        longer exists is left out."""
        if not leases:
            return {}
        marks = ",".join("?" * len(leases))
        rows = self._db.rows(
            "SELECT id, status, worker_id, lease,"
            " CASE WHEN json_valid(config) THEN json_extract(config, '$.steps') END AS steps"
            f" FROM jobs WHERE id IN ({marks})",
            list(leases),
        )
        found = {}
        for row in rows:
            owned = (
                row["status"] == "running"
                and row["worker_id"] == worker_id
                and row["lease"] == leases[row["id"]]
            )
            steps = row["steps"] if isinstance(row["steps"], int) else None
            found[row["id"]] = JobControl(status=row["status"], owned=owned, steps=steps)
        return found

    def update_progress(
        self,
        job_id: int,
        worker_id: str,
        *,
        step: int,
        total: int,
        it_per_s: float | None = None,
        eta_s: float | None = None,
        loss: float | None = None,
        lease: int | None = None,
    ) -> bool:
        """Record progress (also a heartbeat); ``loss``: the total loss at the latest report
        step (None keeps the one recorded). False: the job is no longer this worker's."""
        where, params = _owned_where(job_id, worker_id, lease)
        return (
            self._db.execute(
                "UPDATE jobs SET step = ?, total = ?, it_per_s = ?, eta_s = ?,"
                f" loss = COALESCE(?, loss), heartbeat = ? WHERE {where}",
                (step, total, it_per_s, eta_s, loss, self._ctx.clock(), *params),
            )
            > 0
        )

    def set_checkpoint(
        self,
        job_id: int,
        worker_id: str,
        *,
        path: str,
        step: int,
        staged: Path | None = None,
        lease: int | None = None,
    ) -> bool:
        """Record the latest latent checkpoint at ``path`` (relative). With ``staged`` (this
        attempt's temporary file) the file moves to ``path`` only if the job is still this
        worker's, else it is removed; without, it is already there."""
        where, params = _owned_where(job_id, worker_id, lease)
        with _never_left(staged), self._db.write() as conn:
            owned = conn.execute(
                f"UPDATE jobs SET checkpoint = ?, checkpoint_step = ?, heartbeat = ? WHERE {where}",
                (path, step, self._ctx.clock(), *params),
            ).rowcount
            if owned and staged is not None:
                os.replace(staged, self._ctx.abspath(path))
        return owned > 0

    def set_preview(
        self,
        job_id: int,
        worker_id: str,
        *,
        path: str,
        step: int,
        width: int,
        height: int,
        sha256: str,
        staged: Path | None = None,
        lease: int | None = None,
    ) -> bool:
        """Record the job's live preview (one row per job, replaced each time). With
        ``staged`` the file moves into place as ``finish_job`` moves a final."""
        with _never_left(staged), self._db.write() as conn:
            job = self._owned(conn, job_id, worker_id, lease)
            if job is None:
                return False
            old = conn.execute(
                "SELECT path FROM images WHERE job_id = ? AND kind = 'preview'", (job_id,)
            ).fetchone()
            old_path = None if old is None else old[0]
            if staged is not None:
                path = self._free_image_path(conn, path, own=old_path)
            conn.execute(
                "INSERT INTO images(job_id, variant_id, path, kind, step, width, height, sha256,"
                " created) VALUES (?, ?, ?, 'preview', ?, ?, ?, ?, ?)"
                " ON CONFLICT(job_id, kind) DO UPDATE SET path = excluded.path,"
                " step = excluded.step, width = excluded.width, height = excluded.height,"
                " sha256 = excluded.sha256, created = excluded.created",
                (job_id, job.variant_id, path, step, width, height, sha256, self._ctx.clock()),
            )
            if staged is not None:
                os.replace(staged, self._ctx.abspath(path))
        if old_path is not None and old_path != path:
            remove_quietly(self._ctx.abspath(old_path))
        return True

    # -- ending ---------------------------------------------------------------------------

    def finish_job(
        self,
        job_id: int,
        worker_id: str,
        *,
        path: str,
        step: int,
        width: int,
        height: int,
        sha256: str,
        seconds: float,
        staged: Path | None = None,
        lease: int | None = None,
    ) -> Image | None:
        """Mark the job done and add its final image. None if the job is no longer this
        worker's; the caller must then not count it.

        With ``staged`` (this attempt's temporary file) the image moves into place in the
        transaction that checks ownership and records it, under ``path`` or, if a file is
        already there, the next free numbered name (the returned image says which); if the
        job is not this worker's any more, or anything fails, the file is removed. Without
        ``staged`` the file is already at ``path``."""
        with _never_left(staged), self._db.write() as conn:
            job = self._owned(conn, job_id, worker_id, lease)
            if job is None:
                return None
            if staged is not None:
                path = self._free_image_path(conn, path)
            now = self._ctx.clock()
            row = conn.execute(
                "INSERT INTO images(job_id, variant_id, path, kind, step, width, height, sha256,"
                " created) VALUES (?, ?, ?, 'final', ?, ?, ?, ?, ?) RETURNING *",
                (job_id, job.variant_id, path, step, width, height, sha256, now),
            ).fetchone()
            # Live triage: the marks put on the preview while it ran carry to the final.
            row = conn.execute(
                "UPDATE images SET (door_count, starred, rating) = (SELECT door_count, starred,"
                " rating FROM images WHERE job_id = ? AND kind = 'preview') WHERE id = ?"
                " AND EXISTS (SELECT 1 FROM images WHERE job_id = ? AND kind = 'preview')"
                " RETURNING *",
                (job_id, row["id"], job_id),
            ).fetchone() or row
            preview = conn.execute(
                "DELETE FROM images WHERE job_id = ? AND kind = 'preview' RETURNING path", (job_id,)
            ).fetchone()
            conn.execute(
                "UPDATE jobs SET status = 'done', finished = ?, step = ?, total = MAX(total, ?),"
                " seconds = ?, heartbeat = ?, checkpoint = NULL, checkpoint_step = NULL,"
                " eta_s = 0 WHERE id = ?",
                (now, step, step, seconds, now, job_id),
            )
            self._worker_after_job(conn, worker_id, now, done=1)
            self._ctx.event(
                conn, "job_done", job_id=job_id, worker_id=worker_id, image_id=row["id"]
            )
            if staged is not None:  # last: if the move fails, the whole finish rolls back
                os.replace(staged, self._ctx.abspath(path))
        if preview is not None and preview[0] != path:
            self._ctx.remove_file(preview[0])
        if job.checkpoint:
            self._ctx.remove_file(job.checkpoint)
        return Image.from_row(row)

    def _free_image_path(
        self, conn: sqlite3.Connection, path: str, *, own: str | None = None
    ) -> str:
        """``path``, or the first numbered name after it, that no image row of this library
        names and no file occupies: a file without a row (left by an older library in this
        folder, or by a finish that never committed) is never replaced. ``own`` is the path
        of this job's own row, which may be."""
        for n in itertools.count(1):
            candidate = path if n == 1 else numbered_relpath(path, n)
            if candidate == own:
                return candidate
            if conn.execute("SELECT 1 FROM images WHERE path = ?", (candidate,)).fetchone():
                continue
            if not os.path.lexists(self._ctx.abspath(candidate)):
                return candidate
        raise AssertionError("unreachable")

    def fail_job(
        self, job_id: int, worker_id: str, error: str, *, lease: int | None = None
    ) -> bool:
        """Mark the job failed with a message for the artist; its checkpoint stays, so a
        retry resumes."""
        with self._db.write() as conn:
            if self._owned(conn, job_id, worker_id, lease) is None:
                return False
            now = self._ctx.clock()
            conn.execute(
                "UPDATE jobs SET status = 'failed', error = ?, finished = ?, heartbeat = ?,"
                " eta_s = NULL WHERE id = ?",
                (error, now, now, job_id),
            )
            self._worker_after_job(conn, worker_id, now)
            self._ctx.event(conn, "job_failed", job_id=job_id, worker_id=worker_id, error=error)
        return True

    def release_job(
        self, job_id: int, worker_id: str, *, reason: str, lease: int | None = None
    ) -> bool:
        """Give a job back to the queue (the worker is stopping); it resumes from its
        checkpoint. Counts as no attempt, since the job did nothing wrong."""
        with self._db.write() as conn:
            if self._owned(conn, job_id, worker_id, lease) is None:
                return False
            conn.execute(
                "UPDATE jobs SET status = 'queued', worker_id = NULL, heartbeat = NULL,"
                " attempts = MAX(attempts - 1, 0), step = COALESCE(checkpoint_step, 0),"
                " it_per_s = NULL, eta_s = NULL WHERE id = ?",
                (job_id,),
            )
            self._worker_after_job(conn, worker_id, self._ctx.clock())
            self._ctx.event(conn, "job_requeued", job_id=job_id, worker_id=worker_id, reason=reason)
        return True

    @staticmethod
    def _worker_after_job(
        conn: sqlite3.Connection, worker_id: str, now: float, *, done: int = 0
    ) -> None:
        """After one of its jobs ends: a worker running a batch still shows a running job
        (the lowest id left); one with none left is idle."""
        conn.execute(
            "UPDATE workers SET jobs_done = jobs_done + ?, heartbeat = ?,"
            " current_job = (SELECT MIN(id) FROM jobs WHERE worker_id = ? AND status = 'running'),"
            " state = CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE worker_id = ? AND status = 'running')"
            " THEN 'running' ELSE 'idle' END WHERE id = ?",
            (done, now, worker_id, worker_id, worker_id),
        )

    def _owned(
        self, conn: sqlite3.Connection, job_id: int, worker_id: str, lease: int | None = None
    ) -> Job | None:
        where, params = _owned_where(job_id, worker_id, lease)
        row = conn.execute(f"SELECT * FROM jobs WHERE {where}", params).fetchone()
        return None if row is None else Job.from_row(row)
