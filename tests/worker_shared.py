"""Helpers shared by the worker tests of every tier."""

from __future__ import annotations

import pytest

from doorways_tui.store import Library


@pytest.fixture
def lib(tmp_path) -> Library:
    library = Library.open(tmp_path / "lib")
    yield library
    library.close()


class BatchSpy:
    """Stands in for the runner's engine ``Batch``: records which jobs each step ran, and
    lets a test make a step fail (``on_step(batch)`` runs before the real step)."""

    def __init__(self, monkeypatch, on_step=None) -> None:
        import doorways_tui.worker.runner as runner_module
        from doorways_engine.loop import Batch

        self.steps: list[list[int]] = []  # job ids stepped together, per step
        self.batches: list[list[int]] = []  # job ids admitted, per Batch made
        spy = self

        class Spied(Batch):
            def __init__(self, models, like, **kw) -> None:
                super().__init__(models, like, **kw)
                spy.batches.append([])
                self.admitted = spy.batches[-1]

            def add(self, key, config, **kw) -> None:
                super().add(key, config, **kw)
                self.admitted.append(key)

            def step(self):
                spy.steps.append(sorted(self._runs))
                if on_step is not None:
                    on_step(self)
                return super().step()

        monkeypatch.setattr(runner_module, "Batch", Spied)
