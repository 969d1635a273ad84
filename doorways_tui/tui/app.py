"""The Doorways workstation: one App, the main screen, and the dialogs over it.

``doorways`` (no subcommand) runs it on the library from the settings. The app opens the
library twice: one connection for the artist's keys (in order, on one thread), one for
the poll and counts, so a slow count never delays a key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel

from doorways_engine.errors import DoorwaysError
from doorways_tui.core.settings import Settings, load_settings, save_setting
from doorways_tui.core.text import printable
from doorways_tui.export.files import ExportError
from doorways_tui.store import Library, StoreError
from doorways_tui.tui.commands import DoorwaysCommands
from doorways_tui.tui.compat.textual import OpaqueScreensHide, app_keymap
from doorways_tui.tui.screens.help import HelpScreen, KeyHelp
from doorways_tui.tui.screens.main import MainScreen
from doorways_tui.tui.widgets.preview import PREVIEW_CSS_PATH
from doorways_tui.tui.workbench import Workbench
from doorways_tui.workstation.actions import WorkerLaunch, start_detached_worker

# Failures whose message is written for the artist: shown as is, without a class name.
USER_ERRORS = (DoorwaysError, StoreError, ExportError)


class DoorwaysApp(OpaqueScreensHide, App[None]):
    TITLE = "Doorways"
    CSS_PATH: ClassVar = ["doorways.tcss", PREVIEW_CSS_PATH]
    COMMANDS: ClassVar = App.COMMANDS | {DoorwaysCommands}
    BINDINGS: ClassVar = [
        Binding(
            "question_mark,f1",
            "help",
            "help",
            id="app.help",
            tooltip="every key, and how to remap it",
        ),
        Binding(
            "q",
            "quit",
            "quit",
            id="app.quit",
            tooltip="quit (workers keep running in the background)",
        ),
    ]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        poll_interval: float = 0.5,
        preview_protocol: str | None = None,
        offer_worker: bool = True,
        launch_worker: Callable[[Path, str], WorkerLaunch] = start_detached_worker,
    ) -> None:
        super().__init__()
        self.settings = settings or load_settings()
        # before anything opens: a keymap entry that is not keys would otherwise reach
        # set_keymap in on_mount and end the app with a traceback
        self.settings.validate()
        self.library = Library.open(self.settings.library)
        self.reader = Library.open(self.settings.library)
        self.poll_interval = poll_interval
        self.preview_protocol = preview_protocol  # None: what the terminal supports
        self.offer_worker = offer_worker
        self.launch_worker = launch_worker

    def on_mount(self) -> None:
        self._use_color_theme(self.settings.color_theme)
        self.set_keymap(dict(self.settings.keymap))
        unknown = sorted(set(self.settings.keymap) - known_binding_ids())
        if unknown:
            self.notify(
                f"keymap: no binding has the id(s) {', '.join(unknown)} (see ?)",
                severity="warning",
                timeout=10,
            )
        for clash in keymap_clashes(app_keymap(self)):
            self.notify(clash, severity="warning", timeout=10)
        self.push_screen(MainScreen(self.workbench(), poll_interval=self.poll_interval))

    def _use_color_theme(self, name: str) -> None:
        """The colour theme from the settings; an unknown name (a typo, a theme of a newer
        Textual) is a warning and the default stays."""
        if name and name in self.available_themes:
            self.theme = name
        elif name:
            self.notify(
                f"settings: color_theme {name!r} is not a theme here; using {self.theme}",
                severity="warning",
                timeout=10,
            )
        self._theme_saved = self.theme

    def watch_theme(self, theme: str) -> None:
        """A theme chosen in the app (ctrl+p, "Change theme") is saved for next time."""
        if getattr(self, "_theme_saved", None) in (None, theme):
            return  # before on_mount took the settings' theme, or no change
        self._theme_saved = theme
        try:
            save_setting("color_theme", theme)
        except (DoorwaysError, OSError) as exc:
            self.notify(f"the theme is not saved: {exc}", severity="warning", timeout=10)

    def workbench(self) -> Workbench:
        """What the screens need of the app, handed to them (no screen imports the app)."""
        return Workbench(
            library=self.library,
            reader=self.reader,
            preview_protocol=self.preview_protocol,
            device=self.settings.device,
            offer_worker=self.offer_worker,
            launch_worker=self.launch_worker,
            duplicates=self.settings.curation.duplicates,
        )

    def on_unmount(self) -> None:
        self.library.close()
        self.reader.close()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast, from any screen: plain text through ``printable``. Notifications
        quote prompts, paths, keymaps and errors, which must neither drive the terminal
        nor be read as markup (``[@click=...]``); none of ours uses markup, so ``markup``
        is ignored."""
        super().notify(
            printable(str(message), newlines=True),
            title=printable(str(title)),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def report_error(self, error: BaseException | None, *, where: str = "") -> None:
        """The one place a failure reaches the artist."""
        if error is None:
            what = "unknown error"
        elif isinstance(error, USER_ERRORS):  # their message is a sentence for the artist
            what = str(error)
        else:
            what = f"{type(error).__name__}: {error}"
        self.notify(
            what, title=f"{where} failed" if where else "failed", severity="error", timeout=12
        )

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(help_entries(self)))


def help_entries(app: App) -> list[KeyHelp]:
    """The bindings of the current screen that have an id (the ones a keymap can move),
    one row per id with its keys joined; a widget's own keys (the tree's arrows) are
    described in the help text instead."""
    rows: dict[str, KeyHelp] = {}
    for key, active in app.screen.active_bindings.items():
        binding = active.binding
        if not binding.id or not active.enabled:
            continue
        ident = binding.id
        display = app.get_key_display(replace(binding, key=key, key_display=None))
        if ident in rows:
            found = rows[ident]
            if display not in found.keys.split(" "):
                rows[ident] = KeyHelp(
                    f"{found.keys} {display}", found.description, found.binding_id, found.tooltip
                )
        else:
            rows[ident] = KeyHelp(
                display, binding.description or binding.action, binding.id or "", binding.tooltip
            )
    return list(rows.values())


def keymap_clashes(keymap: dict[str, str]) -> list[str]:
    """A line for each key a ``[keymap]`` entry takes from another binding of the main
    screen, its tree included (the triage and navigation keys win over the tree's)."""
    from doorways_tui.tui.keys import MAIN_BINDINGS, bound_keys
    from doorways_tui.tui.widgets.variant_tree import VariantTree

    tree: dict[str, Binding] = {}  # key -> the tree's binding (a subclass's wins)
    for cls in reversed(VariantTree.__mro__):
        for b in cls.__dict__.get("BINDINGS", ()):
            if isinstance(b, Binding):
                tree[b.key] = b
    others = [(b, "") for b in (*MAIN_BINDINGS, *DoorwaysApp.BINDINGS)]
    others += [(b, "the tree's") for b in tree.values()]
    lines = []
    for binding, _ in others:
        if not binding.id or binding.id not in keymap:
            continue
        for key in bound_keys(binding, keymap):
            for other, whose in others:
                if other.id == binding.id or key not in bound_keys(other, keymap):
                    continue
                was = f"{whose} “{other.description}”".strip()
                lines.append(
                    f"keymap: {key} now does “{binding.description}” ({binding.id}),"
                    f" no longer {was}" + (f" ({other.id})" if other.id else "")
                )
    return lines


def known_binding_ids() -> set[str]:
    from doorways_tui.tui import keys
    from doorways_tui.tui.screens import (
        compare,
        edit_prompt,
        export_dialog,
        filter_menu,
        help,
        init_image,
        loupe,
        start_worker,
        watch,
    )

    ids = {b.id for b in keys.MAIN_BINDINGS} | {b.id for b in DoorwaysApp.BINDINGS}
    for screen in (
        compare.CompareScreen,
        edit_prompt.EditPromptScreen,
        export_dialog.ExportDialog,
        filter_menu.FilterMenu,
        help.HelpScreen,
        init_image.InitImageScreen,
        loupe.LoupeScreen,
        start_worker.StartWorkerScreen,
        watch.WatchScreen,
    ):
        ids |= {b.id for b in screen.BINDINGS if isinstance(b, Binding)}
    return {i for i in ids if i}
