"""Export: PNGs byte for byte, sidecars, contact sheet, safe names, nothing overwritten."""

from __future__ import annotations

from doorways_tui.store import ImageFilter, Library, StoreError
from tests.app_fixtures import populate


async def test_the_dialog_refuses_a_file_or_nothing_and_stays_open(tmp_path):
    from textual.app import App
    from textual.widgets import Input

    from doorways_tui.tui.screens.export_dialog import ExportDialog

    afile = tmp_path / "a-file"
    afile.write_bytes(b"keep")
    results: list = []

    class DialogApp(App):
        def on_mount(self) -> None:
            self.push_screen(ExportDialog(tmp_path / "out", "all"), results.append)

    app = DialogApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        dialog = app.screen
        for text, says in ((str(afile), "is a file, not a folder"), ("  ", "say which folder")):
            dialog.query_one("#export-folder", Input).value = text
            await pilot.press("s")
            await pilot.pause()
            assert app.screen is dialog and results == []
            assert says in list(app._notifications)[-1].message
        dialog.query_one("#export-folder", Input).value = str(tmp_path / "new")
        await pilot.press("s")
        await pilot.pause()
    assert results[0].folder == tmp_path / "new" and results[0].starred


async def test_the_app_warns_when_an_export_skips_a_damaged_image(tmp_path):
    from doorways_tui.tui.screens.export_dialog import ExportRequest
    from tests.app_fixtures import main_screen, make_app, settle

    root = tmp_path / "library"
    ids = populate(root, seeds=1, prompts=["a door"], child=False)
    with Library.open(root) as lib:
        (lib.root / lib.images.image(ids[0]).path).write_bytes(b"not a png any more")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        main_screen(app).tasks.export_to(ExportRequest(tmp_path / "out", False), ImageFilter())
        await settle(pilot)
        note = list(app._notifications)[-1]
        assert "damaged image(s) skipped" in note.message and note.severity == "warning"
        app.report_error(StoreError("no library at /nowhere"), where="export")
        await pilot.pause()
        note = list(app._notifications)[-1]
        assert note.message == "no library at /nowhere"  # the sentence, no class name
