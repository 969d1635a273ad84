"""The library keys (export, demo, worker, new theme), the first run, and live progress."""

from __future__ import annotations

import os

from doorways_tui.store import Library
from tests.app_library_shared import root  # noqa: F401  (fixtures)


def test_the_real_launcher_starts_a_detached_worker(root):
    import signal
    import time

    from doorways_tui.workstation import actions

    Library.open(root).close()
    launch = actions.start_detached_worker(root, "cpu", timeout=90)
    assert launch.ok, launch.message
    with Library.open(root) as lib:
        workers = lib.workers.all()
        assert len(workers) == 1 and workers[0].alive and workers[0].device == "cpu"
        os.kill(workers[0].pid, signal.SIGTERM)  # the worker this test started
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and lib.workers.get(workers[0].id).state != "stopped":
            time.sleep(0.1)
        assert lib.workers.get(workers[0].id).state == "stopped"
