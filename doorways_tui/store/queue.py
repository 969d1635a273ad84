"""The queue part, as the artist sees it: queue, spawn, reroll, cancel, retry, list, count.
(The worker's side of the same jobs table is the claims part.)"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from doorways_engine.config import MAX_STEPS, SQLITE_INT_MAX
from doorways_tui.core.triage import plural
from doorways_tui.store.context import StoreContext, strict_json
from doorways_tui.store.db import StoreError
from doorways_tui.store.files import store_init_image
from doorways_tui.store.records import (
    JOB_STATES,
    Image,
    Job,
    QueueCounts,
    QueueItem,
    Throughput,
    UndoResult,
    Variant,
)
from doorways_tui.store.tree import Tree

# Keys of a generation config that belong to one attempt, never to a queued job.
_RUN_ONLY_KEYS = ("resume_latent", "start_step")

# Queueing more jobs than this at once asks first (the CLI's --yes, the app's second Enter):
# a typo in a seed count should not fill the queue for a year.
LARGE_QUEUE = 500

_QUEUE_COLUMNS = (
    "j.id, j.variant_id, j.seed, j.status, j.priority, j.attempts, j.error, j.step, j.total,"
    " j.it_per_s, j.eta_s, j.worker_id, j.created, j.started, j.finished, v.prompt"
)


def job_config(variant: Variant, seed: int, config: Mapping[str, Any]) -> dict[str, Any]:
    """The config a job stores: ``config`` with the variant's prompt and style and the seed."""
    data = {k: v for k, v in config.items() if k not in _RUN_ONLY_KEYS}
    data.update(prompts=variant.prompt, style=variant.style, seed=int(seed))
    steps = data.get("steps")
    if steps is not None and (not isinstance(steps, int) or steps < 0):
        raise StoreError(f"steps must be a whole number, got {steps!r}")
    return data


def seed_problem(seed: object) -> str | None:
    """Why ``seed`` cannot be a job's seed (not a whole number SQLite holds), or None; worded
    as the engine's own check says it."""
    if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= SQLITE_INT_MAX:
        return None
    return f"seed must be a whole number from 0 to {SQLITE_INT_MAX}, got {seed!r}"


def config_problem(text: str | None) -> str | None:
    """Why a stored generation config cannot run (not JSON, NaN, a value out of range, an
    unknown key), or None. The engine's own check, so a claim and a run agree."""
    from doorways_engine.config import GenerationConfig  # no torch
    from doorways_engine.errors import ConfigError

    try:
        GenerationConfig.from_json(text)
    except ConfigError as exc:
        return str(exc)
    return None


class Queue:
    """Jobs as the artist queues and sees them. ``lib.queue``; spawning grows the tree."""

    def __init__(self, ctx: StoreContext, tree: Tree) -> None:
        self._ctx = ctx
        self._db = ctx.db
        self._tree = tree

    # -- adding work ----------------------------------------------------------------------

    def queue_jobs(
        self,
        variant_id: int,
        seeds: Iterable[int],
        config: Mapping[str, Any],
        *,
        priority: int = 0,
        undoable: bool = True,
    ) -> list[Job]:
        """Queue one job per seed for a variant. ``config`` is a generation config as a dict
        (``GenerationConfig.to_dict()``); its prompt, style and seed come from the variant
        and the seed. Undo cancels the jobs that are still queued."""
        with self._db.write() as conn:
            jobs = self._insert_jobs(conn, variant_id, seeds, config, priority)
            if undoable:
                self._ctx.push_undo("spawn", {"variant_id": None, "job_ids": [j.id for j in jobs]})
        return jobs

    def spawn(
        self,
        *,
        parent_id: int,
        prompt: str,
        edit_kind: str,
        edit_text: str = "",
        style: str | None = None,
        seeds: Iterable[int],
        config: Mapping[str, Any],
        priority: int = 0,
    ) -> tuple[Variant, list[Job]]:
        """Add a child variant and queue its seeds, as one undoable step."""
        with self._db.write() as conn:
            variant = self._tree.insert_variant(
                conn,
                prompt=prompt,
                parent_id=parent_id,
                theme_id=None,
                style=style,
                edit_kind=edit_kind,
                edit_text=edit_text,
            )
            jobs = self._insert_jobs(conn, variant.id, seeds, config, priority)
            self._ctx.push_undo(
                "spawn", {"variant_id": variant.id, "job_ids": [j.id for j in jobs]}
            )
        return variant, jobs

    def reroll(
        self,
        *,
        job_id: int | None = None,
        image_id: int | None = None,
        n: int = 1,
        priority: int = 0,
    ) -> list[Job]:
        """Queue ``n`` more seeds of the variant of a job (or of an image's job), with the
        same config and seeds the variant has not used yet. Undoable."""
        if (job_id is None) == (image_id is None):
            raise StoreError("reroll needs a job or an image")
        with self._db.write() as conn:
            if image_id is not None:
                found = conn.execute(
                    "SELECT job_id FROM images WHERE id = ?", (image_id,)
                ).fetchone()
                if found is None:
                    raise StoreError(f"no image {image_id}")
                job_id = found[0]
            base = self._job_in(conn, job_id)
            seeds = self._unused_seeds(conn, base.variant_id, n)
            jobs = self._insert_jobs(conn, base.variant_id, seeds, base.config_dict(), priority)
            self._ctx.push_undo(
                "spawn", {"variant_id": None, "job_ids": [j.id for j in jobs], "what": "reroll"}
            )
        return jobs

    def _unused_seeds(self, conn: sqlite3.Connection, variant_id: int, n: int) -> list[int]:
        top = conn.execute(
            "SELECT MAX(seed) FROM jobs WHERE variant_id = ?", (variant_id,)
        ).fetchone()[0]
        start = 0 if top is None else top + 1
        return list(range(start, start + max(0, n)))

    def _insert_jobs(
        self,
        conn: sqlite3.Connection,
        variant_id: int,
        seeds: Iterable[int],
        config: Mapping[str, Any],
        priority: int,
    ) -> list[Job]:
        row = conn.execute("SELECT * FROM variants WHERE id = ?", (variant_id,)).fetchone()
        if row is None:
            raise StoreError(f"no variant {variant_id}")
        variant = Variant.from_row(row)
        jobs: list[Job] = []
        now = self._ctx.clock()
        if config.get("init_image"):  # relative to the library, so the library can move
            init = store_init_image(self._ctx.root, config["init_image"])
            config = {**config, "init_image": init}
        for seed in seeds:
            # Every seed is checked; the rest of the config is the same for each, so the
            # engine's check runs once. A raise rolls back the seeds inserted before it.
            if problem := seed_problem(seed):
                raise StoreError(f"nothing queued: {problem}")
            data = job_config(variant, seed, config)
            text = strict_json(data, "job config")
            if not jobs and (problem := config_problem(text)):
                raise StoreError(f"nothing queued: {problem}")
            total = data.get("steps") or 0
            inserted = conn.execute(
                "INSERT INTO jobs(variant_id, seed, config, priority, total, created)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
                (variant_id, int(seed), text, priority, total, now),
            ).fetchone()
            jobs.append(Job.from_row(inserted))
        if jobs:
            self._ctx.event(
                conn, "jobs_queued", variant_id=variant_id, job_ids=[j.id for j in jobs]
            )
        return jobs

    # -- changing work --------------------------------------------------------------------

    def cancel_job(self, job_id: int, *, undoable: bool = False) -> Job:
        """Cancel a queued or running job (a running one stops at its worker's next
        heartbeat; its preview goes now). Cancelling a cancelled job does nothing.
        ``undoable`` (the app): undo puts it back in the queue (see ``undo_jobs``)."""
        with self._db.write() as conn:
            job = self._job_in(conn, job_id)
            if job.status == "cancelled":
                return job
            if job.status not in ("queued", "running"):
                raise StoreError(
                    f"job {job_id} is {job.status}; only queued or running jobs cancel"
                )
            conn.execute(
                "UPDATE jobs SET status = 'cancelled', finished = ?, checkpoint = NULL,"
                " checkpoint_step = NULL WHERE id = ?",
                (self._ctx.clock(), job_id),
            )
            previews = conn.execute(
                "DELETE FROM images WHERE job_id = ? AND kind = 'preview' RETURNING path", (job_id,)
            ).fetchall()
            self._ctx.event(conn, "job_cancelled", job_id=job_id, was=job.status)
            if undoable:
                ids = {"queued": [], "running": []} | {job.status: [job_id]}
                self._push_jobs_undo("cancel", f"cancel job {job_id}", **ids)
        for row in previews:
            self._ctx.remove_file(row[0])
        if job.status == "queued" and job.checkpoint:
            self._ctx.remove_file(job.checkpoint)
        return self.job(job_id)

    # -- live triage: a running run judged before it ends ----------------------------------

    def reject_early(self, job_id: int) -> Image:
        """Cancel a running job (or a queued one that kept its preview: one put back by an
        undo) and keep its latest preview as a rejected image of that seed, at the step it
        reached (the tree says "rejected early"). The checkpoint
        stays with the job, so undo (or a retry) resumes from it; the worker sees the
        cancel at its next step. One undo step."""
        with self._db.write() as conn:
            job = self._job_in(conn, job_id)
            if job.status not in ("running", "queued"):  # queued: one put back by an undo
                raise StoreError(
                    f"job {job_id} is {job.status}; only a running job is rejected early"
                )
            preview = conn.execute(
                "SELECT id FROM images WHERE job_id = ? AND kind = 'preview'", (job_id,)
            ).fetchone()
            if preview is None:
                raise StoreError(f"job {job_id} has no preview yet: nothing to keep")
            conn.execute(
                "UPDATE jobs SET status = 'cancelled', finished = ?, it_per_s = NULL,"
                " eta_s = NULL WHERE id = ?",
                (self._ctx.clock(), job_id),
            )
            row = conn.execute(
                "UPDATE images SET kind = 'final', rejected = 1 WHERE id = ? RETURNING *",
                (preview[0],),
            ).fetchone()
            self._ctx.event(conn, "job_cancelled", job_id=job_id, was=job.status, image_id=row["id"])
            self._ctx.push_undo(
                "live",
                {
                    "action": "reject_early",
                    "what": f"reject seed {job.seed} early",
                    "job_id": job_id,
                    "image_id": row["id"],
                    "was": job.status,
                },
            )
        return Image.from_row(row)

    def extend_job(self, job_id: int, steps: int) -> Job:
        """Give a queued or running job a new step target (its config's ``steps`` and its
        ``total``); a running worker picks it up as it runs. Refused below the step the
        job has reached. One undo step (which puts the old target back)."""
        if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
            raise StoreError(
                f"steps must be a whole number above 0 and at most {MAX_STEPS}, got {steps!r}"
            )
        with self._db.write() as conn:
            job = self._job_in(conn, job_id)
            if job.status not in ("queued", "running"):
                raise StoreError(
                    f"job {job_id} is {job.status}; only queued or running jobs extend"
                )
            if steps < job.step:
                raise StoreError(f"job {job_id} is at step {job.step}: {steps} steps is fewer")
            before = job.config_dict().get("steps")
            self._set_steps(conn, job_id, steps)
            self._ctx.event(conn, "job_extended", job_id=job_id, steps=steps, was=before)
            self._ctx.push_undo(
                "live",
                {
                    "action": "extend",
                    "what": f"more steps for seed {job.seed} ({before} → {steps})",
                    "job_id": job_id,
                    "steps": before,
                    "total": job.total,
                },
            )
        return self.job(job_id)

    def _set_steps(self, conn: sqlite3.Connection, job_id: int, steps: int | None) -> None:
        config = conn.execute("SELECT config FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        data = {**json.loads(config), "steps": steps}
        if steps is None:
            del data["steps"]
        text = strict_json(data, "job config")
        if problem := config_problem(text):
            raise StoreError(f"job {job_id} not changed: {problem}")
        conn.execute(
            "UPDATE jobs SET config = ?, total = ? WHERE id = ?", (text, steps or 0, job_id)
        )

    def star_live(self, image_id: int, *, on: bool | None = None) -> Image:
        """Star (``on`` None: toggle) a running job's preview: the star carries to its
        final image, and starring moves the queued jobs of its variant ahead of every
        other queued job (the follow-ups of a promising run come first). One undo step
        puts the star and the order back."""
        with self._db.write() as conn:
            row = conn.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
            if row is None:
                raise StoreError(f"no image {image_id}")
            if row["kind"] != "preview":
                raise StoreError(f"image {image_id} is not a live preview")
            starred = int(not row["starred"]) if on is None else int(on)
            raised: list[dict[str, int]] = []
            if starred:
                top = conn.execute(
                    "SELECT COALESCE(MAX(priority), 0) FROM jobs WHERE status = 'queued'"
                    " AND variant_id != ?",
                    (row["variant_id"],),
                ).fetchone()[0]
                raised = [
                    {"id": r[0], "priority": r[1]}
                    for r in conn.execute(
                        "SELECT id, priority FROM jobs WHERE variant_id = ? AND status = 'queued'"
                        " AND priority <= ?",
                        (row["variant_id"], top),
                    )
                ]
                conn.execute(
                    "UPDATE jobs SET priority = ? WHERE id IN (SELECT value FROM json_each(?))",
                    (top + 1, json.dumps([r["id"] for r in raised])),
                )
            conn.execute("UPDATE images SET starred = ? WHERE id = ?", (starred, image_id))
            self._ctx.event(conn, "triage", image_id=image_id, starred=starred)
            self._ctx.push_undo(
                "live",
                {
                    "action": "star",
                    "what": "promising run" if starred else "unstar the live run",
                    "job_id": row["job_id"],
                    "image_id": image_id,
                    "starred": row["starred"],
                    "priorities": raised,
                },
            )
            new = conn.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
        return Image.from_row(new)

    def undo_live(self, conn: sqlite3.Connection, data: dict[str, Any]) -> UndoResult:
        """Revert a live-triage step inside the history's undo transaction: a run rejected
        early goes back in the queue (resuming from its checkpoint) and its kept preview is
        a preview again (so its finish adds no second image); a new step target goes back;
        a live star and the queue order it changed go back."""
        action, job_id = data.get("action"), data.get("job_id")
        image_id = data.get("image_id")
        what = data.get("what") or "live triage"
        if action == "reject_early":
            # a run's claim counted an attempt it did not use up; a queued job had none
            attempts = "attempts" if data.get("was") == "queued" else "MAX(attempts - 1, 0)"
            back = conn.execute(
                "UPDATE jobs SET status = 'queued', finished = NULL,"
                " step = COALESCE(checkpoint_step, 0), worker_id = NULL, heartbeat = NULL,"
                f" it_per_s = NULL, eta_s = NULL, attempts = {attempts}"
                " WHERE id = ? AND status = 'cancelled' RETURNING id",
                (job_id,),
            ).fetchone()
            if back is not None:
                self._early_back_to_preview(conn, "id = ?", [job_id])
            summary = "queued again, resuming from its checkpoint" if back else "moved on since"
            return UndoResult(
                "live", f"{what}: {summary}", image_id=image_id, job_ids=(job_id,) if back else ()
            )
        if action == "extend":
            status = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if status is None or status[0] not in ("queued", "running"):
                return UndoResult("live", f"{what}: the run ended since, left as it is")
            self._set_steps(conn, job_id, data.get("steps"))
            conn.execute("UPDATE jobs SET total = ? WHERE id = ?", (data.get("total") or 0, job_id))
            return UndoResult(
                "live", f"{what}: back to {data.get('steps')} steps", job_ids=(job_id,)
            )
        # a live star: on the preview, or on the final image it became
        target = conn.execute(
            "SELECT id FROM images WHERE id = ? OR (job_id = ? AND kind = 'final')"
            " ORDER BY kind = 'final' DESC LIMIT 1",
            (image_id, job_id),
        ).fetchone()
        if target is not None:
            conn.execute(
                "UPDATE images SET starred = ? WHERE id = ?", (data.get("starred", 0), target[0])
            )
            image_id = target[0]
        conn.execute(
            "UPDATE jobs SET priority = json_extract(b.value, '$.priority')"
            " FROM json_each(?) AS b WHERE jobs.id = json_extract(b.value, '$.id')"
            " AND jobs.status = 'queued'",
            (json.dumps(data.get("priorities") or []),),
        )
        return UndoResult("live", what, image_id=image_id)

    @staticmethod
    def _early_back_to_preview(conn: sqlite3.Connection, where: str, params: list[object]) -> None:
        """The images kept from runs rejected early (of the jobs ``where``) become their
        previews again: the run is going on, and its finish makes the one final image."""
        conn.execute(
            "UPDATE images SET kind = 'preview', rejected = 0 WHERE kind = 'final'"
            f" AND job_id IN (SELECT id FROM jobs WHERE {where})"
            " AND NOT EXISTS (SELECT 1 FROM images p WHERE p.job_id = images.job_id"
            " AND p.kind = 'preview')",
            params,
        )

    def losses(self, job_ids: Iterable[int]) -> dict[int, float]:
        """The latest total loss of each job, where the library records one (``jobs.loss``,
        written by workers that know it); empty when it does not."""
        columns = {r[1] for r in self._db.rows("PRAGMA table_info(jobs)")}
        if "loss" not in columns:
            return {}
        rows = self._db.rows(
            "SELECT id, loss FROM jobs WHERE id IN (SELECT value FROM json_each(?))"
            " AND loss IS NOT NULL",
            (json.dumps(list(job_ids)),),
        )
        return {r[0]: float(r[1]) for r in rows}

    def cancel_queued(
        self,
        *,
        variant_id: int | None = None,
        theme_id: int | None = None,
        undoable: bool = False,
        what: str = "cancel the queued jobs",
    ) -> int:
        """Cancel every queued job (or those of one variant, or of one theme's variants),
        in one transaction and a few statements however many there are (a million is one
        UPDATE, not a million transactions); their previews and checkpoints go too.
        Returns how many were cancelled. ``undoable``: one undo step, named ``what``, puts
        them all back in the queue."""
        where, params = "status = 'queued'", []
        if variant_id is not None:
            where += " AND variant_id = ?"
            params.append(variant_id)
        if theme_id is not None:
            where += " AND variant_id IN (SELECT id FROM variants WHERE theme_id = ?)"
            params.append(theme_id)
        with self._db.write() as conn:
            files = conn.execute(
                "DELETE FROM images WHERE kind = 'preview'"
                f" AND job_id IN (SELECT id FROM jobs WHERE {where}) RETURNING path",
                params,
            ).fetchall()
            files += conn.execute(
                f"SELECT checkpoint FROM jobs WHERE {where} AND checkpoint IS NOT NULL", params
            ).fetchall()
            ids = [
                r[0]
                for r in conn.execute(
                    "UPDATE jobs SET status = 'cancelled', finished = ?, checkpoint = NULL,"
                    f" checkpoint_step = NULL WHERE {where} RETURNING id",
                    (self._ctx.clock(), *params),
                )
            ]
            if ids:
                self._ctx.event(conn, "jobs_cancelled", count=len(ids), was="queued")
                if undoable:
                    self._push_jobs_undo("cancel", what, queued=ids, running=[])
        for row in files:
            self._ctx.remove_file(row[0])
        return len(ids)

    def retry_job(
        self, job_id: int, *, priority: int | None = None, undoable: bool = False
    ) -> Job:
        """Put a failed or cancelled job back in the queue (resuming from its checkpoint
        if it has one). ``undoable`` (the app): undo puts it back as it was, if no worker
        has taken it since."""
        with self._db.write() as conn:
            job = self._job_in(conn, job_id)
            if job.status not in ("failed", "cancelled"):
                raise StoreError(
                    f"job {job_id} is {job.status}; only failed or cancelled jobs retry"
                )
            before = self._retry_where(conn, "id = ?", [job_id], priority)
            self._ctx.event(conn, "job_retried", job_id=job_id, was=job.status)
            if undoable:
                self._push_jobs_undo("retry", f"retry job {job_id}", before=before)
        return self.job(job_id)

    def retry_failed(self, *, undoable: bool = False) -> int:
        """Put every failed job back in the queue, in one transaction (and, ``undoable``,
        one undo step that fails again those no worker has taken since). Returns how
        many."""
        with self._db.write() as conn:
            before = self._retry_where(conn, "status = 'failed'", [], None)
            if before:
                self._ctx.event(conn, "jobs_retried", count=len(before), was="failed")
                if undoable:
                    self._push_jobs_undo("retry", "retry the failed jobs", before=before)
        return len(before)

    def _retry_where(
        self,
        conn: sqlite3.Connection,
        where: str,
        params: list[object],
        priority: int | None,
    ) -> list[dict[str, Any]]:
        """Queue again the failed or cancelled jobs matching ``where``; returns what each
        was before (what undo puts back), read in the same transaction."""
        match = f"status IN ('failed', 'cancelled') AND ({where})"
        before = [
            dict(r)
            for r in conn.execute(
                "SELECT id, status, error, attempts, finished, step, priority FROM jobs"
                f" WHERE {match}",
                params,
            )
        ]
        self._early_back_to_preview(conn, match, params)
        conn.execute(
            "UPDATE jobs SET status = 'queued', error = NULL, attempts = 0, worker_id = NULL,"
            " heartbeat = NULL, finished = NULL, step = COALESCE(checkpoint_step, 0),"
            f" priority = COALESCE(?, priority) WHERE {match}",
            (priority, *params),
        )
        return before

    # -- reading --------------------------------------------------------------------------

    def job(self, job_id: int) -> Job:
        row = self._db.row("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise StoreError(f"no job {job_id}")
        return Job.from_row(row)

    def _job_in(self, conn: sqlite3.Connection, job_id: int | None) -> Job:
        row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise StoreError(f"no job {job_id}")
        return Job.from_row(row)

    def jobs(
        self,
        *,
        status: str | None = None,
        variant_id: int | None = None,
        limit: int = 1000,
    ) -> list[Job]:
        """Jobs, newest first, optionally of one status and/or one variant."""
        if status is not None and status not in JOB_STATES:
            raise StoreError(f"status {status!r} is not one of {', '.join(JOB_STATES)}")
        where, params = ["1"], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if variant_id is not None:
            where.append("variant_id = ?")
            params.append(variant_id)
        sql = f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
        return [Job.from_row(r) for r in self._db.rows(sql, (*params, limit))]

    def queue_view(self, *, queued_limit: int = 500, failed_limit: int = 20) -> list[QueueItem]:
        """Running jobs, then queued ones in the order workers will take them, then the
        most recent failures; each with its prompt and progress."""
        base = f"SELECT {_QUEUE_COLUMNS} FROM jobs j JOIN variants v ON v.id = j.variant_id"
        running = self._db.rows(f"{base} WHERE j.status = 'running' ORDER BY j.started, j.id")
        queued = self._db.rows(
            f"{base} WHERE j.status = 'queued' ORDER BY j.priority DESC, j.id LIMIT ?",
            (queued_limit,),
        )
        failed = self._db.rows(
            f"{base} WHERE j.status = 'failed' ORDER BY j.finished DESC, j.id DESC LIMIT ?",
            (failed_limit,),
        )
        return [QueueItem.from_row(r) for r in (*running, *queued, *failed)]

    def counts(self) -> QueueCounts:
        rows = self._db.rows("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        return QueueCounts(**{r[0]: r[1] for r in rows})

    def recent_throughput(
        self, *, window_s: float = 3600.0, min_elapsed_s: float = 60.0
    ) -> Throughput:
        """Jobs done in the last ``window_s`` seconds, measured over the time actually
        elapsed since the first of them started (not the whole window: two minutes of
        work is not an hour's), but never less than ``min_elapsed_s``."""
        now = self._ctx.clock()
        row = self._db.row(
            "SELECT COUNT(*), MIN(COALESCE(started, finished - seconds, finished)), AVG(seconds)"
            " FROM jobs WHERE status = 'done' AND finished >= ?",
            (now - window_s,),
        )
        done, first, mean = row[0], row[1], row[2]
        if not done:
            return Throughput(0, 0.0, 0.0, None)
        elapsed = min(window_s, max(min_elapsed_s, now - first))
        return Throughput(done, elapsed, done * 3600.0 / elapsed, mean)

    def seeds_by_variant(self, theme_id: int) -> dict[int, set[int]]:
        """The seeds each variant of a theme already has a job for (queued or not)."""
        seeds: dict[int, set[int]] = {}
        for variant_id, seed in self._db.rows(
            "SELECT variant_id, seed FROM jobs"
            " WHERE variant_id IN (SELECT id FROM variants WHERE theme_id = ?)",
            (theme_id,),
        ):
            seeds.setdefault(variant_id, set()).add(seed)
        return seeds

    # -- undo -----------------------------------------------------------------------------

    def record_spawn_undo(
        self, job_ids: list[int], *, variant_id: int | None = None, what: str | None = None
    ) -> None:
        """One undo step for work queued by several calls (e.g. a whole theme): undo
        cancels those jobs still queued, and drops ``variant_id`` if nothing uses it.
        ``what`` names the step for the artist ("theme 'Doors'"); the undo says it."""
        data: dict[str, Any] = {"variant_id": variant_id, "job_ids": list(job_ids)}
        if what is not None:
            data["what"] = what
        with self._db.write():
            self._ctx.push_undo("spawn", data)

    def undo_spawn(self, conn: sqlite3.Connection, data: dict[str, Any]) -> UndoResult:
        """Revert a spawn step inside the history's undo transaction: its still-queued jobs
        are cancelled, and a variant it made goes if nothing else uses it."""
        # The ids travel as one JSON parameter, never one SQL variable each: a theme of a
        # million jobs is one statement (SQLite allows 32766 variables by default).
        ids = json.dumps(data["job_ids"])
        cancelled = [
            r[0]
            for r in conn.execute(
                "UPDATE jobs SET status = 'cancelled', finished = ?"
                " WHERE id IN (SELECT value FROM json_each(?)) AND status = 'queued'"
                " RETURNING id",
                (self._ctx.clock(), ids),
            )
        ]
        variant_id = data.get("variant_id")
        removed = variant_id is not None and self._tree.drop_unused_variant(conn, variant_id, ids)
        summary = f"cancelled {len(cancelled)} queued job(s)"
        if removed:
            summary += f", removed variant {variant_id}"
        return UndoResult(
            "spawn",
            summary,
            job_ids=tuple(sorted(cancelled)),
            variant_id=variant_id if removed else None,
        )

    def _push_jobs_undo(self, action: str, what: str, **jobs: Any) -> None:
        """One undo step for a cancel or a retry (``action``), named ``what`` for the
        artist: the ids cancelled (``queued``, ``running``), or each retried job as it
        was (``before``)."""
        self._ctx.push_undo("jobs", {"action": action, "what": what, **jobs})

    def undo_jobs(self, conn: sqlite3.Connection, data: dict[str, Any]) -> UndoResult:
        """Revert a cancel or a retry inside the history's undo transaction. A cancelled
        job goes back in the queue (one that was running starts over from the queue, from
        step 0: its checkpoint went with the cancel); a retried job goes back to what it
        was (failed, with its error) if no worker has taken it since. Jobs that moved on
        since (retried, claimed) are left as they are."""
        now_ids: list[int] = []
        if data.get("action") == "cancel":
            for was, attempts in (("queued", "attempts"), ("running", "MAX(attempts - 1, 0)")):
                now_ids += [
                    r[0]
                    for r in conn.execute(
                        "UPDATE jobs SET status = 'queued', finished = NULL, step = 0,"
                        " worker_id = NULL, heartbeat = NULL, it_per_s = NULL, eta_s = NULL,"
                        f" attempts = {attempts}"
                        " WHERE id IN (SELECT value FROM json_each(?)) AND status = 'cancelled'"
                        " RETURNING id",
                        (json.dumps(data.get(was) or []),),
                    )
                ]
            asked = len(data.get("queued") or ()) + len(data.get("running") or ())
            state = "queued again"
        else:
            before = data.get("before") or []
            now_ids = [
                r[0]
                for r in conn.execute(
                    "UPDATE jobs SET status = json_extract(b.value, '$.status'),"
                    " error = json_extract(b.value, '$.error'),"
                    " attempts = json_extract(b.value, '$.attempts'),"
                    " finished = json_extract(b.value, '$.finished'),"
                    " step = json_extract(b.value, '$.step'),"
                    " priority = json_extract(b.value, '$.priority')"
                    " FROM json_each(?) AS b WHERE jobs.id = json_extract(b.value, '$.id')"
                    " AND jobs.status = 'queued' AND jobs.attempts = 0"
                    " RETURNING jobs.id",
                    (json.dumps(before),),
                )
            ]
            asked = len(before)
            state = "back as they were"
        summary = f"{plural(len(now_ids), 'job')} {state}"
        if left := asked - len(now_ids):
            summary += f", {left} moved on since and left as they are"
        return UndoResult("jobs", summary, job_ids=tuple(sorted(now_ids)))
