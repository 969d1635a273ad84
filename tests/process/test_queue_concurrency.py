"""The queue CLI (``queue add|list|cancel|retry``, ``status``) and the queue under contention."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter

from doorways_tui.store import Library
from tests.fixtures_store import ROOT, doorways, finish_fake, seed_jobs, subprocess_env
from tests.queue_shared import (
    TINY_ARGS,
    cli,
    root,  # noqa: F401  (fixtures)
)
from tests.store_shared import run_at_once

_CLAIMER = textwrap.dedent(
    """
    import sys
    from doorways_tui.store import Library
    from doorways_tui.store.files import atomic_write_bytes

    lib, me = Library.open(sys.argv[1]), sys.argv[2]
    while (job := lib.claims.claim_job(me)) is not None:
        lib.claims.update_progress(job.id, me, step=1, total=2)
        rel = f"images/{job.id}.png"
        atomic_write_bytes(lib.abspath(rel), b"x")
        assert lib.claims.finish_job(job.id, me, path=rel, step=2, width=1, height=1, sha256="", seconds=0)
    """
)


_WRITER = textwrap.dedent(
    """
    import sys, time
    from doorways_tui.store import Library

    lib = Library.open(sys.argv[1])
    me, stop = "busy", time.monotonic() + float(sys.argv[2])
    n = 0
    while time.monotonic() < stop:
        job = lib.claims.claim_job(me)
        if job is None:
            lib.queue.reroll(job_id=1, n=5)
            continue
        for step in range(20):
            lib.claims.update_progress(job.id, me, step=step, total=20)
            lib.workers.heartbeat(me, job.id)
        lib.claims.fail_job(job.id, me, "made to fail")
        lib.history.log_event("noise", n=n)
        n += 1
    print(n)
    """
)


def test_four_processes_claim_each_of_200_jobs_exactly_once(root):
    with Library.open(root) as lib:
        jobs = seed_jobs(lib, 200)
    run_at_once(_CLAIMER, root, [f"c{k}" for k in range(4)])
    with Library.open(root) as lib:
        claims = Counter(e.payload()["job_id"] for e in lib.history.events(kind="job_claimed"))
        assert claims == Counter({j.id: 1 for j in jobs})
        assert lib.queue.counts().done == 200 and len(lib.images.images()) == 200
        assert {j.attempts for j in lib.queue.jobs(limit=500)} == {1}


def test_a_second_process_writing_never_shows_database_is_locked(root, capsys):
    with Library.open(root) as lib:
        seed_jobs(lib, 1)
        finish_fake(lib, lib.claims.claim_job("w0"), "w0")
        image_id = lib.images.images()[0].id
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), "8"],
        env=subprocess_env(root),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with Library.open(root) as lib:
            lib.db.conn.execute("PRAGMA busy_timeout = 50")  # even with a short wait, no error
            for k in range(60):
                lib.images.toggle_star(image_id)
                lib.images.set_note(image_id, f"note {k}")
                lib.queue.queue_view()
                lib.tree.nodes(1)
            for args in (
                ["queue", "list"],
                ["status"],
                ["queue", "add", "door", "--seeds", "1-3", *TINY_ARGS],
            ):
                code, out, err = cli(capsys, root, *args)
                assert code == 0 and "locked" not in out + err
        other = doorways("queue", "list", library=root)  # a separate CLI process too
        assert other.returncode == 0 and "locked" not in other.stdout + other.stderr
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert int(out) > 0 and "locked" not in err
    with Library.open(root) as lib:
        assert lib.images.image(image_id).note == "note 59"
        assert lib.queue.counts().failed == int(out)
