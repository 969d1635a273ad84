"""Stop rules in a real worker with the demo models: a plateau stops the run at a loss
report, the worker goes on with the next job, and undo resumes the run from the step it
stopped at, to one final image."""

from __future__ import annotations

import pytest

import doorways_tui.worker.runner as runner_module
from doorways_tui.worker.loop import run_worker
from doorways_tui.worker.options import WorkerOptions
from tests.fixtures_store import TINY, seed_jobs
from tests.worker_shared import lib  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def shared_models(monkeypatch, demo_models) -> None:
    monkeypatch.setattr(runner_module, "load_models", lambda config, **kw: demo_models)


def options(model_dir) -> WorkerOptions:
    return WorkerOptions(
        device="cpu", model_dir=model_dir, worker_id="w-rules", exit_when_idle=True, poll_s=0.05
    )


def test_a_plateau_stops_a_real_run_and_undo_resumes_it_from_there(lib, model_dir, monkeypatch):
    # losses every 2 steps; "improve by 90% over 4 steps" cannot hold: it fires at step 6
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 30, "preview_every": 0, "report_every": 2})
    theme_id = lib.tree.variant(job.variant_id).theme_id
    other = lib.tree.root_variant(theme_id=theme_id, prompt="a door elsewhere")
    (after,) = lib.queue.queue_jobs(other.id, [7], {**TINY, "steps": 2, "preview_every": 0})
    lib.rules.set_values({"min_improvement": 0.9, "over_steps": 4}, theme_id=theme_id)
    starts: list[int] = []
    config_of = runner_module.JobRunner._config

    def spy(self, claimed):
        config = config_of(self, claimed)
        starts.append(config.start_step)
        return config

    monkeypatch.setattr(runner_module.JobRunner, "_config", spy)

    run_worker(lib, options(model_dir), install_signals=False)
    stopped = lib.queue.job(job.id)
    assert stopped.status == "cancelled" and stopped.error.startswith("stopped by a rule")
    assert stopped.checkpoint_step == 6 and lib.abspath(stopped.checkpoint).is_file()
    assert lib.images.images_for_job(job.id) == []  # no final, and the preview went
    assert lib.queue.job(after.id).status == "done"  # the worker went on
    (event,) = lib.history.events(kind="rule_stopped")
    assert event.payload()["rule"] == "plateau" and event.payload()["step"] == 6

    undone = lib.history.undo()
    assert undone.kind == "rules" and lib.queue.job(job.id).status == "queued"
    run_worker(lib, options(model_dir), install_signals=False)
    done = lib.queue.job(job.id)
    assert (done.status, done.step) == ("done", 30)
    assert starts[-1] == 6  # resumed from the step the rule stopped it at
    assert [i.kind for i in lib.images.images_for_job(job.id)] == ["final"]
