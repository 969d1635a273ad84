"""What every Doorways screen with thread workers shares: a worker that fails becomes one
notification, through the app (the one place errors reach the artist)."""

from __future__ import annotations

from textual.screen import Screen
from textual.worker import Worker, WorkerState


class ReportingScreen(Screen[None]):
    """A screen whose failed thread workers are reported by ``app.report_error``."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            report = getattr(self.app, "report_error", None)
            if report is not None:
                report(event.worker.error, where=event.worker.name or event.worker.group)
            else:
                self.app.notify(str(event.worker.error), severity="error")
