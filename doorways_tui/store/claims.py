"""The queue as a worker sees it: claim, report progress, checkpoint, finish, fail, release.

Every write a worker makes about a job checks that the job is still ``running`` and still
its own (``_owned``). A job cancelled by the artist, or taken back because this worker's
heartbeat went stale, makes those writes return False, and the worker drops the job. So
two workers never both finish one job, even if a "dead" worker comes back to life.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from doorways_tui.store.files import remove_quietly
from doorways_tui.store.jobs import JobsMixin
from doorways_tui.store.records import Image, Job

DEFAULT_STALE_AFTER = 60.0
DEFAULT_MAX_ATTEMPTS = 5

_OWNED = "id = ? AND worker_id = ? AND status = 'running'"


def config_problem(text: str | None) -> str | None:
    """Why a stored generation config cannot run (not JSON, NaN, a value out of range, an
    unknown key), or None. The engine's own check, so a claim and a run agree."""
    from engine.config import GenerationConfig  # no torch
    from engine.errors import ConfigError

    try:
        GenerationConfig.from_json(text)
    except ConfigError as exc:
        return str(exc)
    return None


class ClaimsMixin(JobsMixin):
    def claim_job(
        self,
        worker_id: str,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        like: Mapping[str, object] | None = None,
        defaults: Mapping[str, object] | None = None,
    ) -> Job | None:
        """Take the next queued job (highest priority, then oldest) for this worker, after
        requeueing jobs whose worker stopped heartbeating. Atomic across processes.

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
        with self.db.write() as conn:
            self._requeue_stale(conn, stale_after=stale_after, max_attempts=max_attempts)
            now = self.clock()
            while True:
                found = conn.execute(
                    "SELECT id, config FROM jobs WHERE status = 'queued'" + match + ""
                    " ORDER BY priority DESC, id LIMIT 1",
                    params,
                ).fetchone()
                if found is None:
                    return None
                problem = config_problem(found["config"])
                if problem is None:
                    break
                self._fail_unrunnable(conn, found["id"], worker_id, problem, now)
            row = conn.execute(
                "UPDATE jobs SET status = 'running', worker_id = ?, attempts = attempts + 1,"
                " heartbeat = ?, started = COALESCE(started, ?), error = NULL"
                " WHERE id = ? RETURNING *",
                (worker_id, now, now, found["id"]),
            ).fetchone()
            job = Job.from_row(row)
            conn.execute(
                "UPDATE workers SET state = 'running', current_job = ?, heartbeat = ? WHERE id = ?",
                (job.id, now, worker_id),
            )
            self._event(
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
        self._event(conn, "job_failed", job_id=job_id, worker_id=worker_id, error=error)

    def requeue_stale(
        self,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> list[int]:
        """Put running jobs whose heartbeat is older than ``stale_after`` back in the queue
        (or fail them after ``max_attempts``); returns their ids."""
        with self.db.write() as conn:
            return self._requeue_stale(conn, stale_after=stale_after, max_attempts=max_attempts)

    def _requeue_stale(
        self, conn: sqlite3.Connection, *, stale_after: float, max_attempts: int
    ) -> list[int]:
        now = self.clock()
        rows = conn.execute(
            "UPDATE jobs SET"
            " status = CASE WHEN attempts >= :max THEN 'failed' ELSE 'queued' END,"
            " error = CASE WHEN attempts >= :max"
            "   THEN 'its worker stopped responding ' || attempts || ' times; retry to try again'"
            "   ELSE error END,"
            " finished = CASE WHEN attempts >= :max THEN :now ELSE NULL END,"
            " step = COALESCE(checkpoint_step, 0), worker_id = NULL, heartbeat = NULL,"
            " it_per_s = NULL, eta_s = NULL"
            " WHERE status = 'running' AND (heartbeat IS NULL OR heartbeat < :cutoff)"
            " RETURNING id, status, checkpoint_step",
            {"max": max_attempts, "now": now, "cutoff": now - stale_after},
        ).fetchall()
        for row in rows:
            self._event(
                conn, "job_requeued", job_id=row[0], reason="stale", status=row[1], from_step=row[2]
            )
        return [r[0] for r in rows]

    # -- while running --------------------------------------------------------------------

    def update_progress(
        self,
        job_id: int,
        worker_id: str,
        *,
        step: int,
        total: int,
        it_per_s: float | None = None,
        eta_s: float | None = None,
    ) -> bool:
        """Record progress (also a heartbeat). False: the job is no longer this worker's."""
        return (
            self.db.execute(
                f"UPDATE jobs SET step = ?, total = ?, it_per_s = ?, eta_s = ?, heartbeat = ? WHERE {_OWNED}",
                (step, total, it_per_s, eta_s, self.clock(), job_id, worker_id),
            )
            > 0
        )

    def set_checkpoint(self, job_id: int, worker_id: str, *, path: str, step: int) -> bool:
        """Record the latest latent checkpoint (already written to ``path``, relative)."""
        return (
            self.db.execute(
                f"UPDATE jobs SET checkpoint = ?, checkpoint_step = ?, heartbeat = ? WHERE {_OWNED}",
                (path, step, self.clock(), job_id, worker_id),
            )
            > 0
        )

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
    ) -> bool:
        """Record the job's live preview (one row per job, replaced each time)."""
        with self.db.write() as conn:
            job = self._owned(conn, job_id, worker_id)
            if job is None:
                return False
            conn.execute(
                "INSERT INTO images(job_id, variant_id, path, kind, step, width, height, sha256,"
                " created) VALUES (?, ?, ?, 'preview', ?, ?, ?, ?, ?)"
                " ON CONFLICT(job_id, kind) DO UPDATE SET path = excluded.path,"
                " step = excluded.step, width = excluded.width, height = excluded.height,"
                " sha256 = excluded.sha256, created = excluded.created",
                (job_id, job.variant_id, path, step, width, height, sha256, self.clock()),
            )
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
    ) -> Image | None:
        """Mark the job done and add its final image (the file is already in place).
        None if the job is no longer this worker's; the caller must then not count it."""
        with self.db.write() as conn:
            job = self._owned(conn, job_id, worker_id)
            if job is None:
                return None
            now = self.clock()
            row = conn.execute(
                "INSERT INTO images(job_id, variant_id, path, kind, step, width, height, sha256,"
                " created) VALUES (?, ?, ?, 'final', ?, ?, ?, ?, ?) RETURNING *",
                (job_id, job.variant_id, path, step, width, height, sha256, now),
            ).fetchone()
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
            self._event(conn, "job_done", job_id=job_id, worker_id=worker_id, image_id=row["id"])
        if preview is not None and preview[0] != path:
            remove_quietly(self.abspath(preview[0]))
        if job.checkpoint:
            remove_quietly(self.abspath(job.checkpoint))
        return Image.from_row(row)

    def fail_job(self, job_id: int, worker_id: str, error: str) -> bool:
        """Mark the job failed with a message for the artist; its checkpoint stays, so a
        retry resumes."""
        with self.db.write() as conn:
            if self._owned(conn, job_id, worker_id) is None:
                return False
            now = self.clock()
            conn.execute(
                "UPDATE jobs SET status = 'failed', error = ?, finished = ?, heartbeat = ?,"
                " eta_s = NULL WHERE id = ?",
                (error, now, now, job_id),
            )
            self._worker_after_job(conn, worker_id, now)
            self._event(conn, "job_failed", job_id=job_id, worker_id=worker_id, error=error)
        return True

    def release_job(self, job_id: int, worker_id: str, *, reason: str) -> bool:
        """Give a job back to the queue (the worker is stopping); it resumes from its
        checkpoint. Counts as no attempt, since the job did nothing wrong."""
        with self.db.write() as conn:
            if self._owned(conn, job_id, worker_id) is None:
                return False
            conn.execute(
                "UPDATE jobs SET status = 'queued', worker_id = NULL, heartbeat = NULL,"
                " attempts = MAX(attempts - 1, 0), step = COALESCE(checkpoint_step, 0),"
                " it_per_s = NULL, eta_s = NULL WHERE id = ?",
                (job_id,),
            )
            self._worker_after_job(conn, worker_id, self.clock())
            self._event(conn, "job_requeued", job_id=job_id, worker_id=worker_id, reason=reason)
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

    def owns(self, job_id: int, worker_id: str) -> bool:
        """True while the job is running on this worker."""
        return self.db.row(f"SELECT 1 FROM jobs WHERE {_OWNED}", (job_id, worker_id)) is not None

    def _owned(self, conn: sqlite3.Connection, job_id: int, worker_id: str) -> Job | None:
        row = conn.execute(f"SELECT * FROM jobs WHERE {_OWNED}", (job_id, worker_id)).fetchone()
        return None if row is None else Job.from_row(row)
