"""The rules part: stop rules as the library keeps them, the jobs they stop or hold, the
undo of each, and the claim order (``early previews first``). ``lib.rules``.

The store knows a rule only as a name and a number (``worker/rules.py`` says what each
means and checks its range): one row per rule for the whole queue (``theme_id`` 0) or one
theme, whose value wins (0 there turns the rule off for that theme). A rule's action is
an event and an undo step (kind ``rules``): undo queues a stopped run again, to resume
from its checkpoint, or releases held seeds; either way the rules leave those jobs alone
from then on (``jobs.rules_off``), or they would fire again at once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from doorways_tui.core.triage import plural
from doorways_tui.store.context import StoreContext
from doorways_tui.store.db import StoreError
from doorways_tui.store.records import UndoResult

WHOLE_QUEUE = 0  # the theme_id of the rules that hold for every theme
EARLY_PREVIEWS = "early_previews"  # the meta key of the claim-order setting

# The claim order that serves triage: among jobs of equal priority, those of a variant
# with nothing to look at yet (no image, no job running or done) come first, so every
# queued variant shows a first preview soon. Costs a look-up per queued job at each claim
# (``benchmarks/bench_queue.py --early-previews`` measures it), hence off by default.
_UNSEEN_LAST = (
    "(EXISTS (SELECT 1 FROM jobs r WHERE r.variant_id = jobs.variant_id"
    "   AND r.status IN ('running', 'done'))"
    " OR EXISTS (SELECT 1 FROM images i WHERE i.variant_id = jobs.variant_id))"
)


def claim_order(conn: sqlite3.Connection) -> str:
    """The ORDER BY of a claim: priority then age, or (early previews on) priority, then
    variants not yet seen, then age."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (EARLY_PREVIEWS,)).fetchone()
    if row is not None and row[0] == "1":
        return f"priority DESC, {_UNSEEN_LAST}, id"
    return "priority DESC, id"


class Rules:
    """Stop-rule settings, the claim order's setting, and what the rules do to jobs."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._db = ctx.db

    # -- settings -------------------------------------------------------------------------

    def values(self, theme_id: int = WHOLE_QUEUE) -> dict[str, float]:
        """The rules set at one scope (the whole queue, or one theme's own)."""
        rows = self._db.rows(
            "SELECT name, value FROM stop_rules WHERE theme_id = ? ORDER BY name", (theme_id,)
        )
        return {name: value for name, value in rows}

    def scopes(self) -> dict[int, dict[str, float]]:
        """Every scope with a rule set: theme id (0: the whole queue) -> its values."""
        out: dict[int, dict[str, float]] = {}
        for theme_id, name, value in self._db.rows(
            "SELECT theme_id, name, value FROM stop_rules ORDER BY theme_id, name"
        ):
            out.setdefault(theme_id, {})[name] = value
        return out

    def for_job(self, job_id: int) -> dict[str, float] | None:
        """The rules in force for a job (its theme's over the whole queue's), or None when
        the rules leave it alone (the artist undid a rule's action on it)."""
        row = self._db.row(
            "SELECT j.rules_off, v.theme_id FROM jobs j JOIN variants v ON v.id = j.variant_id"
            " WHERE j.id = ?",
            (job_id,),
        )
        if row is None or row[0]:
            return None
        return self._in_force(row[1])

    def for_variant(self, variant_id: int) -> dict[str, float]:
        """The rules in force for a variant's jobs."""
        theme_id = self._db.scalar("SELECT theme_id FROM variants WHERE id = ?", (variant_id,))
        return {} if theme_id is None else self._in_force(theme_id)

    def _in_force(self, theme_id: int) -> dict[str, float]:
        values: dict[str, float] = {}
        for name, value in self._db.rows(
            "SELECT name, value FROM stop_rules WHERE theme_id IN (0, ?) ORDER BY theme_id",
            (theme_id,),
        ):
            values[name] = value  # the theme's row comes last and wins
        return {k: v for k, v in values.items() if v}

    def set_values(self, values: Mapping[str, float], *, theme_id: int = WHOLE_QUEUE) -> None:
        """Set rules at one scope (values already checked by their ``Rule``)."""
        with self._db.write() as conn:
            if (
                theme_id != WHOLE_QUEUE
                and not conn.execute("SELECT 1 FROM themes WHERE id = ?", (theme_id,)).fetchone()
            ):
                raise StoreError(f"no theme {theme_id}")
            conn.executemany(
                "INSERT INTO stop_rules(theme_id, name, value) VALUES (?, ?, ?)"
                " ON CONFLICT(theme_id, name) DO UPDATE SET value = excluded.value",
                [(theme_id, name, float(value)) for name, value in values.items()],
            )
            self._ctx.event(conn, "rules_set", theme_id=theme_id, values=dict(values))

    def clear(self, *, theme_id: int = WHOLE_QUEUE, names: Iterable[str] | None = None) -> int:
        """Remove rules from one scope (a theme then follows the whole queue's again);
        returns how many were set."""
        where, params = "theme_id = ?", [theme_id]
        if names is not None:
            names = list(names)
            where += f" AND name IN ({','.join('?' * len(names))})"
            params += names
        with self._db.write() as conn:
            n = conn.execute(f"DELETE FROM stop_rules WHERE {where}", params).rowcount
            if n:
                self._ctx.event(conn, "rules_cleared", theme_id=theme_id, count=n)
        return n

    def early_previews(self) -> bool:
        return self._db.scalar("SELECT value FROM meta WHERE key = ?", (EARLY_PREVIEWS,)) == "1"

    def set_early_previews(self, on: bool) -> None:
        """The claim order of every worker of this library (see ``claim_order``)."""
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (EARLY_PREVIEWS, "1" if on else "0"),
            )
            self._ctx.event(conn, "rules_set", early_previews=on)

    # -- what the rules count -------------------------------------------------------------

    def variant_steps(self, variant_id: int, *, job_id: int, step: int) -> int:
        """Steps the variant's jobs have run, with ``job_id`` (running) at ``step``."""
        others = self._db.scalar(
            "SELECT COALESCE(SUM(step), 0) FROM jobs WHERE variant_id = ? AND id != ?",
            (variant_id, job_id),
        )
        return int(others) + step

    def rejected_seeds(self, variant_id: int) -> int:
        """How many seeds of the variant have a rejected finished image."""
        return int(
            self._db.scalar(
                "SELECT COUNT(DISTINCT j.seed) FROM images i JOIN jobs j ON j.id = i.job_id"
                " WHERE i.variant_id = ? AND i.kind = 'final' AND i.rejected = 1",
                (variant_id,),
            )
        )

    def held_jobs(self) -> list[dict[str, Any]]:
        """The queued jobs a rule holds: id, variant, seed and why."""
        rows = self._db.rows(
            "SELECT id, variant_id, seed, held FROM jobs"
            " WHERE status = 'queued' AND held IS NOT NULL ORDER BY variant_id, id"
        )
        return [dict(r) for r in rows]

    # -- what the rules do ----------------------------------------------------------------

    def stop_job(
        self, job_id: int, *, step: int, rule: str, reason: str, lease: int | None = None
    ) -> bool:
        """Cancel a running job at ``step`` because ``rule`` fired (its worker drops it at
        its next step). Unlike a cancel its checkpoint stays, so undo resumes it; its live preview
        goes. False: it is not running (on this claim) any more, or the rules leave it
        alone."""
        where, params = "id = ? AND status = 'running' AND rules_off = 0", [job_id]
        if lease is not None:
            where += " AND lease = ?"
            params.append(lease)
        with self._db.write() as conn:
            row = conn.execute(
                f"UPDATE jobs SET status = 'cancelled', finished = ?, error = ?, step = ?"
                f" WHERE {where} RETURNING variant_id, step",
                (self._ctx.clock(), f"stopped by a rule: {reason}", step, *params),
            ).fetchone()
            if row is None:
                return False
            previews = conn.execute(
                "DELETE FROM images WHERE job_id = ? AND kind = 'preview' RETURNING path", (job_id,)
            ).fetchall()
            self._ctx.event(
                conn,
                "rule_stopped",
                job_id=job_id,
                variant_id=row[0],
                step=row[1],
                rule=rule,
                reason=reason,
            )
            self._ctx.push_undo(
                "rules",
                {"action": "stop", "what": f"{rule} stop of job {job_id}", "job_ids": [job_id]},
            )
        for preview in previews:
            self._ctx.remove_file(preview[0])
        return True

    def hold_queued(self, variant_id: int, *, rule: str, reason: str) -> list[int]:
        """Hold the variant's queued jobs (claims skip them) because ``rule`` fired; one
        event and one undo step for them all. Returns their ids (none: nothing to hold)."""
        with self._db.write() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "UPDATE jobs SET held = ? WHERE variant_id = ? AND status = 'queued'"
                    " AND held IS NULL AND rules_off = 0 RETURNING id",
                    (reason, variant_id),
                )
            ]
            if ids:
                ids.sort()
                self._ctx.event(
                    conn, "rule_held", variant_id=variant_id, job_ids=ids, rule=rule, reason=reason
                )
                what = f"{rule} hold of {plural(len(ids), 'queued seed')} of variant {variant_id}"
                self._ctx.push_undo("rules", {"action": "hold", "what": what, "job_ids": ids})
        return ids

    def release(self, *, job_ids: Iterable[int] | None = None) -> list[int]:
        """Release held jobs (all, or those named) to the queue; the rules leave them alone
        from then on. Returns the ids released."""
        with self._db.write() as conn:
            ids = self._release(conn, None if job_ids is None else list(job_ids))
            if ids:
                self._ctx.event(conn, "jobs_released", job_ids=ids)
        return ids

    @staticmethod
    def _release(conn: sqlite3.Connection, job_ids: list[int] | None) -> list[int]:
        where, params = "status = 'queued' AND held IS NOT NULL", []
        if job_ids is not None:
            where += " AND id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(job_ids))
        rows = conn.execute(
            f"UPDATE jobs SET held = NULL, rules_off = 1 WHERE {where} RETURNING id", params
        ).fetchall()
        return sorted(r[0] for r in rows)

    def undo_rule(self, conn: sqlite3.Connection, data: dict[str, Any]) -> UndoResult:
        """Revert a rule's action inside the history's undo transaction: a stopped run goes
        back in the queue to resume from its checkpoint; held seeds are released. Jobs that
        moved on since (retried, cancelled by hand) are left as they are."""
        asked = list(data.get("job_ids") or [])
        if data.get("action") == "stop":
            ids = sorted(
                r[0]
                for r in conn.execute(
                    "UPDATE jobs SET status = 'queued', finished = NULL, error = NULL,"
                    " step = COALESCE(checkpoint_step, 0), worker_id = NULL, heartbeat = NULL,"
                    " it_per_s = NULL, eta_s = NULL, attempts = MAX(attempts - 1, 0),"
                    " rules_off = 1"
                    " WHERE id IN (SELECT value FROM json_each(?)) AND status = 'cancelled'"
                    " RETURNING id",
                    (json.dumps(asked),),
                )
            )
            summary = f"{plural(len(ids), 'job')} queued again"
        else:
            ids = self._release(conn, asked)
            summary = f"{plural(len(ids), 'held seed')} released"
        if left := len(asked) - len(ids):
            summary += f", {left} moved on since and left as they are"
        return UndoResult("rules", summary, job_ids=tuple(ids))
