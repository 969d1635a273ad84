"""The "new theme" dialog, driven by key presses inside a minimal app."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Button, Input, RadioSet, Select, Static, Switch, TextArea

from doorways_tui.store import Library
from doorways_tui.themes.library import queue_theme
from doorways_tui.themes.request import ThemeRequest
from doorways_tui.tui.screens.new_theme import NewThemeScreen

_SENTINEL = object()


class DialogApp(App):
    """Opens the dialog at once and keeps what it returns."""

    def __init__(self, **screen_args) -> None:
        super().__init__()
        self.result: object = _SENTINEL
        self.screen_args = screen_args

    def on_mount(self) -> None:
        self.push_screen(NewThemeScreen(**self.screen_args), self._done)

    def _done(self, result: ThemeRequest | None) -> None:
        self.result = result


async def settle(pilot) -> None:
    """Let the counting worker finish and its result reach the screen."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_shipped_pack_is_counted_before_anything_is_queued():
    app = DialogApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewThemeScreen)
        assert text_of(screen, "#count") == (
            "Doorways: 4 groups, 33 pairs x 5 doorway words x 4 modifiers"
            " = 660 variants x 2 seeds = 1320 jobs"
        )
        assert "entrance to Heaven | entrance to Hell" in text_of(screen, "#prompts")
        assert app.result is _SENTINEL  # nothing returned yet
        assert not screen.query_one("#queue-theme", Button).disabled
        await pilot.press("escape")
        assert app.result is None


async def test_typed_pairs_with_seeds_then_enter_queues(tmp_path):
    app = DialogApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one(RadioSet).focus()
        await pilot.press("right", "right", "enter")  # Typed pairs
        await settle(pilot)
        screen.query_one("#pairs", TextArea).focus()
        await pilot.press(*"Sea / ", "enter")  # Enter in the pairs box is a new line
        assert app.result is _SENTINEL
        screen.query_one("#pairs", TextArea).text = "Valhalla / Fólkvangr\nSea / Dreams / Sky"
        # Its 5 doorway words and 4 modifiers.
        screen.query_one("#settings", Select).value = "doorways"
        screen.query_one("#seeds", Input).focus()
        await pilot.press("3")
        screen.query_one("#name", Input).value = "Norse"
        await settle(pilot)
        assert text_of(screen, "#count") == (
            "Norse: 1 group, 2 sets x 5 doorway words x 4 modifiers = 40 variants x 3 seeds"
            " = 120 jobs"
        )
        await pilot.press("enter")  # Enter in an input queues, but the models are missing
        await pilot.pause()
        assert app.result is _SENTINEL
        assert "is not downloaded yet" in text_of(screen, "#models-warning")
        assert str(screen.query_one("#queue-theme", Button).label) == "Queue anyway"
        await pilot.press("enter")  # a second Enter queues anyway
        await pilot.pause()
    request = app.result
    assert isinstance(request, ThemeRequest)
    assert request.theme.name == "Norse"
    assert request.job_count == 120
    assert request.variants[0].prompt == (  # the pack's notes for the subjects it names
        "entrance to Valhalla, Odin's golden hall of fallen warriors"
        " | entrance to Fólkvangr, Freyja's meadow of the fallen"
    )
    assert request.variants[0].config["vqgan"] == "vqgan_imagenet_f16_16384"
    with Library.open(tmp_path / "lib") as library:
        report = queue_theme(library, request.theme, request.variants)
        assert (report.new_variants, report.new_jobs) == (40, 120)
        assert library.tree.theme_by_name("Norse") is not None


async def test_a_bad_file_shows_the_error_and_cannot_be_queued(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "B"\n[[groups]]\nname = "G"\npairs = [["lonely"]]\n')
    app = DialogApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one(RadioSet).focus()
        await pilot.press("right", "enter")  # Theme file
        path_input = screen.query_one("#path", Input)
        path_input.focus()
        path_input.value = str(bad)
        await settle(pilot)
        problem = text_of(screen, "#problems")
        assert problem.startswith(f"{bad}:4: group 'G'")
        assert screen.query_one("#queue-theme", Button).disabled
        await pilot.press("enter")  # nothing to queue: the dialog stays open
        await pilot.pause()
        assert app.result is _SENTINEL
        assert app.screen is screen


async def test_models_line_says_missing_and_m_switches_to_the_demo_models():
    app = DialogApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert text_of(screen, "#models") == (
            "models: vqgan_imagenet_f16_16384 + ViT-B/32"
            " (not downloaded: press m to use the demo models)"
        )
        # The quick pack: few jobs, so only the models could ask (the doorways pack's
        # 1320 jobs ask for a second Enter; see below).
        screen.query_one("#pack", Select).value = "quick"
        screen.query_one("#queue-theme", Button).focus()
        await pilot.press("m")
        await settle(pilot)
        assert screen.query_one("#demo-models", Switch).value is True
        assert text_of(screen, "#models") == (
            "models: demo + demo (tiny random-weight demo models: for trying Doorways out,"
            " not for art)"
        )
        await pilot.press("enter")  # ready: one Enter queues
        await pilot.pause()
    request = app.result
    assert isinstance(request, ThemeRequest)
    assert request.job_count == 1
    assert {(v.config["vqgan"], v.config["clip"]) for v in request.variants} == {("demo", "demo")}


async def test_downloaded_models_are_ready_and_queue_at_once(tmp_path: Path):
    vqgan = tmp_path / "vqgan" / "vqgan_imagenet_f16_16384"
    vqgan.mkdir(parents=True)
    (tmp_path / "clip").mkdir()
    for path in (vqgan / "model.yaml", vqgan / "last.ckpt", tmp_path / "clip" / "ViT-B-32.pt"):
        path.write_bytes(b"")
    app = DialogApp(model_dir=tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert text_of(screen, "#models") == "models: vqgan_imagenet_f16_16384 + ViT-B/32 (ready)"
        screen.query_one("#pack", Select).value = "quick"  # one job: nothing else asks
        await settle(pilot)
        screen.query_one("#queue-theme", Button).focus()
        await pilot.press("enter")
        await pilot.pause()
    assert isinstance(app.result, ThemeRequest)
    assert app.result.models is not None and app.result.models.ready


async def press_when_ready(pilot, button: Button) -> None:
    """Enter on ``button`` once it takes presses: a Button ignores them during its "pressed"
    look (0.2 s), however fast or loaded the machine is."""
    for _ in range(100):
        if not button.has_class("-active"):
            break
        await pilot.pause(0.02)
    await pilot.press("enter")
    await pilot.pause()


async def test_more_than_500_jobs_takes_a_second_enter():
    app = DialogApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("#queue-theme", Button).focus()
        await pilot.press("m")  # demo models: ready, so only the size asks
        screen.query_one("#seeds", Input).value = "1"
        await settle(pilot)
        assert text_of(screen, "#count").endswith("= 660 variants x 1 seed = 660 jobs")
        screen.query_one("#queue-theme", Button).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.result is _SENTINEL
        assert text_of(screen, "#models-warning") == (
            "This queues 660 jobs, more than 500 at once.\nEnter again queues anyway."
        )
        assert str(screen.query_one("#queue-theme", Button).label) == "Queue anyway"
        screen.query_one("#seeds", Input).value = "2"  # a new count asks again
        await settle(pilot)
        assert text_of(screen, "#models-warning") == ""
        screen.query_one("#queue-theme", Button).focus()
        await press_when_ready(pilot, screen.query_one("#queue-theme", Button))
        assert app.result is _SENTINEL and "1320 jobs" in text_of(screen, "#models-warning")
        await press_when_ready(pilot, screen.query_one("#queue-theme", Button))
    assert isinstance(app.result, ThemeRequest) and app.result.job_count == 1320


async def test_a_typed_list_keeps_its_headings_and_queues_at_80x24(tmp_path):
    """At 80x24 the body scrolls and Queue stays on screen; headings become groups; the
    list's settings come from the quick pack unless the fields say otherwise; the estimate
    is shown before queueing."""
    app = DialogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one(RadioSet).focus()
        await pilot.press("right", "right", "enter")  # Typed list
        typed = "## Afterlife\n- “Heaven” / “Hell”\n- Valhalla / Fólkvangr\n\nNature:\n1. Sun / Moon\n"
        screen.query_one("#pairs", TextArea).text = typed
        screen.query_one("#name", Input).value = "Pasted"
        screen.query_one("#steps", Input).value = "60"
        await settle(pilot)
        assert text_of(screen, "#count") == (
            "Pasted: 2 groups, 3 pairs x 1 doorway word x 1 modifier = 3 variants x 1 seed = 3 jobs"
        )
        assert text_of(screen, "#estimate").startswith("estimate: 3 jobs, 180 steps: about ")
        assert screen.query_one("#size", Input).placeholder == "size 512x256"  # quick's
        screen.query_one("#size", Input).value = "12x"
        await settle(pilot)
        assert "size '12x' is not WIDTHxHEIGHT" in text_of(screen, "#problems")
        screen.query_one("#size", Input).value = "256x128"
        await settle(pilot)
        await pilot.press("m")  # demo models: one press queues
        await settle(pilot)
        assert "on the demo models" in text_of(screen, "#estimate")
        button = screen.query_one("#queue-theme", Button)
        assert button.region.bottom <= 24 and screen.region.contains_region(button.region)
        await pilot.click("#queue-theme")
        await pilot.pause()
    request = app.result
    assert isinstance(request, ThemeRequest)
    assert [(g.name, g.sets) for g in request.theme.groups] == [
        ("Afterlife", (("Heaven", "Hell"), ("Valhalla", "Fólkvangr"))),
        ("Nature", (("Sun", "Moon"),)),
    ]
    sizes = {(v.config["width"], v.config["height"], v.config["steps"]) for v in request.variants}
    assert sizes == {(256, 128, 60)}
    assert request.variants[2].prompt == "entrance to Sun | entrance to Moon"  # no realm list
    with Library.open(tmp_path / "lib") as library:
        queue_theme(library, request.theme, request.variants)
        theme = library.tree.theme_by_name("Pasted")
        assert theme is not None
        groups = [v.group_name for v in library.tree.variants(theme.id)]
        assert groups == ["Afterlife", "Afterlife", "Nature"]


async def test_cancel_is_on_screen_at_80x24_with_every_field_shown():
    app = DialogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one(RadioSet).focus()
        await pilot.press("right", "enter")  # File: the path and the list settings shown
        await settle(pilot)
        cancel = screen.query_one("#cancel", Button)
        assert screen.region.contains_region(cancel.region)
        body = screen.query_one("#new-theme-body")
        assert body.max_scroll_y > 0  # more than fits: it scrolls
        await pilot.click("#cancel")
        await pilot.pause()
    assert app.result is None
