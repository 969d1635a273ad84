"""CLIP suggestions end to end with the demo models: the worker judges each final image,
``index`` fills older ones (and all after a probe change), and the commands ``index``,
``similar`` and ``suggest``."""

from __future__ import annotations

import json
import logging

import pytest

import doorways_tui.worker.curation as curation_module
import doorways_tui.worker.runner as runner_module
from doorways_engine.probes import Probes
from doorways_tui.cli import main
from doorways_tui.worker.curation import index_images
from doorways_tui.worker.loop import run_worker
from doorways_tui.worker.options import WorkerOptions
from tests.fixtures_store import TINY, seed_jobs
from tests.worker_shared import lib  # noqa: F401  (fixtures)

# Wider than tall: the halves are embedded and matched against their own prompts.
PANORAMA = {**TINY, "width": 64, "height": 32, "steps": 2, "preview_every": 0,
            "panorama": "cosine"}  # fmt: skip


@pytest.fixture(autouse=True)
def shared_models(monkeypatch, demo_models) -> list[str]:
    """Every load gets the session's demo models; records each load asked for."""
    loads: list[str] = []

    def load(config, **kw):
        loads.append(config.clip)
        return demo_models

    monkeypatch.setattr(runner_module, "load_models", load)
    monkeypatch.setattr(curation_module, "load_models", load)
    return loads


def run_jobs(lib, model_dir, n: int, config=PANORAMA) -> list[int]:
    jobs = seed_jobs(lib, n, config=config, prompt="heaven | hell")
    options = WorkerOptions(
        device="cpu", model_dir=model_dir, worker_id="w-test", exit_when_idle=True, poll_s=0.05
    )
    assert run_worker(lib, options, install_signals=False) == n
    return [lib.images.images_for_job(job.id)[0].id for job in jobs]


def test_a_finished_job_has_a_suggestion_and_its_embeddings(lib, model_dir):
    (image_id,) = run_jobs(lib, model_dir, 1)
    suggestion = lib.curation.suggestion(image_id)
    assert suggestion is not None
    assert suggestion.model == "demo-v2" and suggestion.probes == Probes().digest()
    assert suggestion.doors in (1, 2, 3, 4) and 0.25 <= suggestion.doors_confidence <= 1
    assert suggestion.figures is not None and 0.5 <= suggestion.figures_confidence <= 1
    assert None not in (suggestion.match_whole, suggestion.match_left, suggestion.match_right)
    embedding = lib.curation.embeddings([image_id])[image_id]
    assert embedding.dim == 32 and embedding.left is not None and embedding.right is not None
    assert lib.images.image(image_id).door_count is None  # the artist's tag is untouched
    assert lib.curation.pending_count(probes=Probes().digest()) == 0


def test_a_failing_judgement_never_fails_the_job(lib, model_dir, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("CLIP fell over")

    monkeypatch.setattr(curation_module, "curate", broken)
    with caplog.at_level(logging.WARNING, logger="doorways.worker"):
        (image_id,) = run_jobs(lib, model_dir, 1)
    assert lib.queue.job(lib.images.image(image_id).job_id).status == "done"
    assert lib.curation.suggestion(image_id) is None
    assert "no CLIP suggestion (RuntimeError: CLIP fell over)" in caplog.text


def test_index_fills_older_images_and_judges_all_again_after_a_probe_change(
    lib, model_dir, shared_models
):
    ids = run_jobs(lib, model_dir, 3)
    lib.db.execute("DELETE FROM image_suggestions WHERE image_id != ?", (ids[0],))  # older
    probes = Probes()
    assert [i.id for i in lib.curation.pending(probes=probes.digest())] == ids[1:]
    seen: list[tuple[int, int]] = []
    shared_models.clear()
    result = index_images(
        lib, probes=probes, device="cpu", progress=lambda d, t: seen.append((d, t))
    )
    assert (result.judged, result.skipped) == (2, {})
    assert seen == [(1, 2), (2, 2)] and shared_models == ["demo"]  # loaded once
    assert lib.curation.pending_count(probes=probes.digest()) == 0
    changed = Probes(figures=("a crowd",))
    assert lib.curation.pending_count(probes=changed.digest()) == 3
    assert index_images(lib, probes=changed, device="cpu").judged == 3
    assert {lib.curation.suggestion(i).probes for i in ids} == {changed.digest()}


def test_index_skips_an_image_it_cannot_read_and_judges_the_rest(lib, model_dir):
    ids = run_jobs(lib, model_dir, 2)
    lib.db.execute("DELETE FROM image_suggestions")
    lib.abspath(lib.images.image(ids[0]).path).unlink()
    result = index_images(lib, probes=Probes(), device="cpu")
    assert result.judged == 1 and list(result.skipped) == [ids[0]]
    assert "No such file" in result.skipped[ids[0]]


# -- the commands ---------------------------------------------------------------------


def cli(lib, *args: str) -> int:
    return main(["--library", str(lib.root), *args])


def test_similar_lists_neighbours_most_similar_first(lib, model_dir, capsys):
    ids = run_jobs(lib, model_dir, 4)
    capsys.readouterr()
    assert cli(lib, "similar", str(ids[0]), "--json", "--limit", "3") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3 and ids[0] not in [r["id"] for r in rows]
    sims = [r["similarity"] for r in rows]
    assert sims == sorted(sims, reverse=True)
    expected = lib.curation.neighbours(ids[0], limit=3)
    assert [r["id"] for r in rows] == [n.image_id for n in expected]
    assert cli(lib, "similar", str(ids[0])) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_suggest_lists_a_theme_with_confidences(lib, model_dir, capsys):
    ids = run_jobs(lib, model_dir, 2)
    lib.images.set_door_count(ids[0], 9)  # the demo suggests 1-4: this disagrees
    capsys.readouterr()
    assert cli(lib, "suggest", "--theme", "doors", "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ids
    assert rows[0]["door_count"] == 9 and rows[0]["suggested"] is True
    assert 0 < rows[0]["doors_confidence"] <= 1 and rows[0]["model"] == "demo-v2"
    assert cli(lib, "suggest", "--theme", "doors", "--disagree", "--json") == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == ids[:1]
    assert cli(lib, "suggest", "--theme", "doors") == 0
    assert "figures" in capsys.readouterr().out


def test_the_index_command_judges_what_is_missing(lib, model_dir, capsys):
    run_jobs(lib, model_dir, 2)
    capsys.readouterr()
    assert cli(lib, "index") == 0
    assert "nothing to index" in capsys.readouterr().out
    lib.db.execute("DELETE FROM image_suggestions")
    assert cli(lib, "index", "--device", "floppy") == 2
    assert "not a device name" in capsys.readouterr().err
    assert lib.curation.pending_count(probes=Probes().digest()) == 2  # nothing done
    assert cli(lib, "index", "--quiet") == 0
    assert "judged 2 image(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["similar", "999"], "no image 999"),
        (["similar", "0"], "ID"),
        (["similar", "1", "--limit", "0"], "--limit"),
        (["suggest", "--theme", "nope"], "no theme named 'nope'"),
        (["index", "--theme", "nope"], "no theme named 'nope'"),
        (["similar", "1", "--theme", "nope"], "no theme named 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(lib, capsys, args, says):
    assert cli(lib, *args) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


def test_similar_of_an_image_not_judged_yet_says_to_index(lib, model_dir, capsys, monkeypatch):
    monkeypatch.setattr(curation_module, "curate", lambda *a, **k: 1 / 0)
    (image_id,) = run_jobs(lib, model_dir, 1)
    capsys.readouterr()
    assert cli(lib, "similar", str(image_id)) == 2
    assert "run doorways index" in capsys.readouterr().err


def test_an_export_s_json_sidecar_carries_the_suggestion(lib, model_dir, tmp_path, monkeypatch):
    from doorways_tui.export.folder import SIDECAR

    judged, plain = run_jobs(lib, model_dir, 2)
    lib.db.execute("DELETE FROM image_suggestions WHERE image_id = ?", (plain,))
    out = tmp_path / "out"
    assert cli(lib, "export", str(out), "--view", "all", "--no-sheet") == 0
    records = {r["image_id"]: r for r in json.loads((out / f"{SIDECAR}.json").read_text())}
    suggestion = records[judged]["suggestion"]
    assert suggestion == json.loads(json.dumps(lib.curation.suggestion(judged).as_dict()))
    assert suggestion["model"] == "demo-v2" and "a crowd" in suggestion["scores"]
    assert "suggestion" not in records[plain]

