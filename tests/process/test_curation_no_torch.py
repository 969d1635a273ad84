"""``similar`` and ``suggest`` read the store with numpy, never torch: the app asks for
neighbours and suggestions too (tests/process/test_no_torch_in_app.py's rule)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from doorways_tui.store import Library
from doorways_tui.store.curation import Embedding, Suggestion
from tests.fixtures_store import ROOT, finish_fake, seed_jobs, subprocess_env


def test_similar_and_suggest_never_load_torch(tmp_path):
    with Library.open(tmp_path / "lib") as lib:
        for n, job in enumerate(seed_jobs(lib, 2)):
            image = lib.images.image(finish_fake(lib, lib.claims.claim_job("w1")))
            assert image.job_id == job.id
            vector = np.eye(4, dtype=np.float16)[n]
            assert lib.curation.save(
                image.id,
                sha256=image.sha256,
                embedding=Embedding("demo-v2", vector),
                suggestion=Suggestion("demo-v2", "p", 2, 0.6, False, 0.9),
            )
    script = (
        "import sys\nfrom doorways_tui.cli import main\n"
        "assert main(['similar', '1']) == 0\n"
        "assert main(['suggest', '--theme', 'doors']) == 0\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=subprocess_env(tmp_path / "lib"),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].split()[0] == "2" and lines[-1] == "False"
