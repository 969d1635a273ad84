"""The worker in this process with the tiny models: outcomes, failures, cancel, model reuse."""

from __future__ import annotations

from doorways_tui.store import Library


def test_worker_detach_warns_on_stderr_about_a_busy_device(tmp_path, monkeypatch, capsys):
    import doorways_tui.worker.loop as worker_module
    from doorways_tui.cli import main

    root = tmp_path / "lib"
    with Library.open(root) as lib:
        lib.workers.register("first", device="cpu")

    class FakeProcess:
        def poll(self):
            return None

    def fake_start(library, *, device, worker_id, args):
        with Library.open(library) as lib:
            lib.workers.register(worker_id, device="cpu", pid=12345678)
        return worker_module.Detached(4242, worker_id, root / "logs" / "w.log", FakeProcess())

    monkeypatch.setattr(worker_module, "start_detached", fake_start)
    monkeypatch.setattr("doorways_tui.store.workers.pid_running", lambda pid: True)
    code = main(["--library", str(root), "worker", "--detach", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "warning" in err and "first" in err and "cpu" in err
