"""What the stop rules do to the library (``worker/rules.py`` says when they fire).

Two calls, one per place a rule can fire: ``check_progress``, which the runner makes at
each loss report of a run (plateau, step cap), and ``after_reject``, which the triage makes
when an image is rejected (rejects). Each records the rule's action as an event and an
undo step (``store/rules.py``) and returns what it did in one line, or None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from doorways_tui.core.triage import plural
from doorways_tui.store import Image, Job, Library
from doorways_tui.worker.rules import LossWatch, StopRules

log = logging.getLogger("doorways.worker")

# One watch per claim of a job (a new claim resumes from a checkpoint: a new window). A
# worker runs a batch at a time; the oldest are forgotten past this many.
_WATCHES: dict[tuple[int, int], LossWatch] = {}
_MAX_WATCHES = 256


def _watch(job: Job) -> LossWatch:
    key = (job.id, job.lease)
    if key not in _WATCHES:
        while len(_WATCHES) >= _MAX_WATCHES:
            del _WATCHES[next(iter(_WATCHES))]
        _WATCHES[key] = LossWatch()
    return _WATCHES[key]


def check_progress(
    lib: Library,
    job: Job,
    step: int,
    losses: Mapping[str, float],
    *,
    checkpoint: Callable[[], None] | None = None,
) -> str | None:
    """At a loss report of a running job: if a stop rule fires, save its latent
    (``checkpoint``, so undo resumes from here), cancel it and say why; the caller then
    drops the job. A step cap that fires also holds the variant's queued seeds. None: the
    run goes on (no rule in force, or none fired)."""
    values = lib.rules.for_job(job.id)
    if values is None:
        return None  # the artist undid a rule's action on this job: left alone
    rules = StopRules.from_values(values)
    loss = losses.get("prompt", losses.get("total"))
    fired: tuple[str, str] | None = None
    if loss is not None and (plateau := _watch(job).report(step, loss, rules)):
        fired = ("plateau", plateau.reason(rules))
    elif rules.max_variant_steps:
        spent = lib.rules.variant_steps(job.variant_id, job_id=job.id, step=step)
        if spent >= rules.max_variant_steps:
            fired = (
                "step-cap",
                f"variant {job.variant_id} ran {spent} steps (cap {rules.max_variant_steps})",
            )
    if fired is None:
        return None
    rule, reason = fired
    if checkpoint is not None:
        try:
            checkpoint()
        except Exception as exc:  # it resumes from an older checkpoint
            log.warning("job %d: no checkpoint before the %s stop: %s", job.id, rule, exc)
    if not lib.rules.stop_job(job.id, step=step, rule=rule, reason=reason, lease=job.lease):
        return None
    _WATCHES.pop((job.id, job.lease), None)
    said = f"job {job.id} stopped at step {step} by the {rule} rule: {reason}"
    if rule == "step-cap" and (
        held := lib.rules.hold_queued(job.variant_id, rule=rule, reason=reason)
    ):
        said += f"; {plural(len(held), 'queued seed')} of variant {job.variant_id} held"
    log.info("%s", said)
    return said


def after_reject(lib: Library, image: Image) -> str | None:
    """After an image is rejected: with enough rejected seeds of its variant (the rejects
    rule), hold the variant's queued seeds; says so in one line, or None."""
    if image.kind != "final" or not image.rejected:
        return None
    need = StopRules.from_values(lib.rules.for_variant(image.variant_id)).hold_after_rejects
    if not need or (rejected := lib.rules.rejected_seeds(image.variant_id)) < need:
        return None
    reason = f"{plural(rejected, 'seed')} rejected (the rule holds after {need})"
    held = lib.rules.hold_queued(image.variant_id, rule="rejects", reason=reason)
    if not held:
        return None
    return f"held {plural(len(held), 'queued seed')} of this variant: {reason}; u releases them"
