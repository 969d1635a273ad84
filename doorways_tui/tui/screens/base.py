"""What every Doorways screen shares: failures of its thread workers become one
notification, through the app (the one place errors reach the artist)."""

from __future__ import annotations

from textual.worker import Worker, WorkerState


class WorkerErrors:
    """Mixin for screens: a worker that raised is reported by ``app.report_error``."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            app = self.app  # type: ignore[attr-defined]
            report = getattr(app, "report_error", None)
            if report is not None:
                report(event.worker.error, where=event.worker.name or event.worker.group)
            else:
                app.notify(str(event.worker.error), severity="error")
