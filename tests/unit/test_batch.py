"""The engine's rolling batch: runs join and leave between steps without changing what any
other run (or the joining one) computes; a run's step target can change mid-run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doorways_engine import GenerationResult, generate
from doorways_engine.errors import Cancelled, ConfigError, DoorwaysError
from doorways_engine.loop import Batch
from tests.conftest import tiny_config


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def same_image(a: GenerationResult, b: GenerationResult) -> None:
    assert a.steps == b.steps
    assert torch.allclose(a.latent, b.latent, atol=1e-4)
    assert np.abs(pixels(a.image) - pixels(b.image)).max() <= 2


def run_out(batch: Batch, results: dict) -> None:
    while batch:
        results.update(batch.step())


def test_a_run_admitted_mid_batch_makes_the_same_image_as_alone(demo_models):
    first = tiny_config(seed=1, steps=6)
    late = tiny_config(seed=2, steps=4, prompts="a gate | a cave", panorama="linear")
    batch, results = Batch(demo_models, first), {}
    batch.add("first", first)
    for _ in range(3):
        assert batch.step() == {}
    batch.add("late", late)  # joins at the first run's step 3
    run_out(batch, results)
    same_image(results["first"], generate(first, models=demo_models))
    same_image(results["late"], generate(late, models=demo_models))


def test_a_dropped_run_does_not_disturb_the_others(demo_models):
    keep, leave = tiny_config(seed=3, steps=5), tiny_config(seed=4, steps=5)
    batch, results = Batch(demo_models, keep), {}
    batch.add("keep", keep)
    batch.add("leave", leave)
    batch.step()
    batch.step()
    dropped = batch.drop("leave")
    assert isinstance(dropped, Cancelled) and dropped.step == 2 and "leave" not in batch
    assert dropped.state["step"] == 2
    run_out(batch, results)
    assert list(results) == ["keep"]
    same_image(results["keep"], generate(keep, models=demo_models))


def test_an_extended_run_finishes_at_its_new_target_and_reports_it(demo_models):
    seen = []
    batch, results = Batch(demo_models, tiny_config()), {}
    batch.add(
        "run",
        tiny_config(seed=5, steps=3, preview_every=0),
        callback=lambda step, info: seen.append((step, info.total, info.preview is not None)),
    )
    batch.step()
    batch.set_steps("run", 5)
    assert batch.target("run") == 5
    run_out(batch, results)
    result = results["run"]
    assert (result.steps, result.config.steps) == (5, 5)
    assert seen == [(1, 3, False), (2, 5, False), (3, 5, False), (4, 5, False), (5, 5, True)]
    same_image(result, generate(tiny_config(seed=5, steps=5, preview_every=0), models=demo_models))


def test_a_target_lowered_below_the_step_reached_ends_the_run_there(demo_models):
    batch, results = Batch(demo_models, tiny_config()), {}
    batch.add("run", tiny_config(steps=10))
    for _ in range(3):
        batch.step()
    batch.set_steps("run", 2)
    run_out(batch, results)
    assert results["run"].steps == 3


def test_a_snapshot_is_a_copy_the_run_does_not_change(demo_models):
    states = {}
    batch = Batch(demo_models, tiny_config())
    batch.add(
        "run", tiny_config(steps=4), callback=lambda s, info: states.setdefault(s, info.state())
    )
    run_out(batch, {})
    first, last = states[1], states[4]
    assert first["step"] == 1 and not torch.equal(first["z"], last["z"])
    assert first["z"].device.type == "cpu"
    moments = [v for s in first["opt"]["state"].values() for v in s.values()]
    assert all(m.device.type == "cpu" for m in moments if isinstance(m, torch.Tensor))


def test_a_run_of_another_size_or_a_bad_init_is_refused_and_the_batch_goes_on(
    demo_models, tmp_path
):
    batch = Batch(demo_models, tiny_config())
    batch.add("run", tiny_config(steps=2))
    with pytest.raises(ConfigError, match="share one size"):
        batch.add("wide", tiny_config(width=128))
    with pytest.raises(DoorwaysError, match="image not found"):
        batch.add("bad", tiny_config(init_image=str(tmp_path / "gone.png")))
    with pytest.raises(ValueError, match="already"):
        batch.add("run", tiny_config())
    results = {}
    run_out(batch, results)
    assert list(results) == ["run"] and results["run"].steps == 2
