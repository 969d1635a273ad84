"""Text from the library or a file never drives the terminal (issue 11).

Rows are planted with SQL, past every check where text enters, as an old library or
another writer would leave them: a prompt, theme name, error, note and worker name that
set the window title (OSC 0/2), write the clipboard (OSC 52), clear the screen (CSI 2J,
also as the 8-bit CSI 0x9b) and reverse the text (U+202E). Whatever shows them (the CLI,
the app, a real terminal) must show escapes instead.
"""

from __future__ import annotations

import io
import logging

import pytest

from doorways_tui.cli import main
from doorways_tui.core.text import PrintableFormatter, printable
from doorways_tui.store import Library
from tests.escapes_shared import (
    PAYLOAD,
    THEME,
    assert_inert,
)

# -- printable ------------------------------------------------------------------------------


def test_printable_shows_controls_and_format_characters_as_escapes():
    assert printable("a\x1b]0;x\x07b") == "a\\x1b]0;x\\x07b"
    assert printable("\x9b2J\x7f\x00") == "\\x9b2J\\x7f\\x00"
    assert printable("\u202eabc\u2066\u2069\u200e\u200f\ufeff") == (
        "\\u202eabc\\u2066\\u2069\\u200e\\u200f\\ufeff"
    )
    assert printable("a\u2028b\u2029c") == "a\\u2028b\\u2029c"
    assert printable("hidden \U000e0041\U000e0042") == "hidden \\U000e0041\\U000e0042"
    assert printable("bad name \udcff.png") == "bad name \\udcff.png"  # surrogateescape


def test_printable_keeps_ordinary_unicode():
    for text in (
        "entrance to Fólkvangr, naïve café",
        "天国への入り口 | 地獄への入り口",
        "مدخل الجنة",  # right-to-left by its letters is fine: no override character
        "doors 🚪✨ 👩‍🔬 (a ZWJ sequence) 🏴󠁧󠁢󠁳󠁣󠁴󠁿 (Scotland: tag characters)",
        "می‌خواهم",  # Persian with a zero-width non-joiner
        "non\u00a0breaking and\u3000ideographic spaces",
        "",
    ):
        assert printable(text) == text


def test_printable_newlines_and_tabs():
    assert printable("one\ntwo\tthree\r") == "one\\ntwo\\tthree\\r"
    assert printable("one\ntwo\tthree", newlines=True) == "one\ntwo\\tthree"


def test_printable_is_idempotent_and_leaves_nothing_unsafe():
    once = printable(PAYLOAD + "\n")
    assert_inert(once)
    assert "\n" not in once
    assert printable(once) == once
    assert "PWNED" in once  # shown, not dropped: the reader sees what the text carries


def test_worker_log_lines_are_printable():
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(PrintableFormatter("%(levelname)s: %(message)s"))
    record = logging.LogRecord("w", logging.WARNING, "", 0, "job 3 failed: %s", (PAYLOAD,), None)
    line = handler.format(record)
    assert_inert(line)
    assert line.startswith("WARNING: job 3 failed: \\x1b]0;PWNED")


# -- the CLI --------------------------------------------------------------------------------


def test_error_line_escapes_what_it_quotes(tmp_path, capsys):
    missing = tmp_path / f"nowhere{PAYLOAD}"
    assert main(["--library", str(missing), "queue", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("doorways: error: ") and err.count("\n") == 1, err
    assert "\\x1b]0;PWNED" in err
    assert_inert(err)


def test_usage_errors_escape_the_arguments_they_quote(capsys):
    assert main(["queue", "list", f"stray{PAYLOAD}"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and "\\x1b[2J" in err
    assert_inert(err)




def test_theme_preview_never_prints_a_theme_files_control_characters(tmp_path, capsys):
    path = tmp_path / "evil.toml"
    path.write_text(THEME, encoding="utf-8")
    code = main(["theme", "preview", str(path), "--models", "demo"])
    out, err = capsys.readouterr()
    assert_inert(out)
    assert_inert(err)
    if code == 0:  # shown, escaped
        assert "\\x1b]0;PWNED" in out and "\\u202e" in out and "G\\x1b[H" in out, out
    else:  # or refused where it enters, in one line that is itself escaped
        assert code == 2 and err.startswith("doorways: error: ") and err.count("\n") == 1, err


# -- a real terminal ------------------------------------------------------------------------




# -- the app --------------------------------------------------------------------------------





















# -- one rule: what is refused on the way in is what is escaped on the way out ---------------

SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
AGREEMENT = [
    *"\x00\x07\x1b\x7f\x85\x9b",  # C0, DEL, C1
    *"\u061c\u200e\u200f\u202a\u202e\u2066\u2069",  # bidi controls
    *"\u200b\u2060\ufeff\u00ad\u180e\U000e0001\U000e0041\U000e007f",  # zero-width, tags
    *"\u2028\u2029\udcff\ud800",  # separators, lone surrogates
    *"a é 天 🚪 \u00a0\u3000\u200c\u200d\ue000\U000f0000\u0378",  # kept: letters, joiners, PUA
    SCOTLAND,
    f"tag after a flag {SCOTLAND}\U000e0041",
    "\U0001f3f4\U000e0041 not a flag",
]


def refused(text: str) -> bool:
    from doorways_engine.config import ConfigError, check_text

    try:
        check_text("prompt", text)
    except ConfigError:
        return True
    return False


@pytest.mark.parametrize("text", AGREEMENT, ids=lambda t: "+".join(f"{ord(c):X}" for c in t[:3]))
def test_check_text_refuses_exactly_what_printable_escapes(text):
    assert refused(text) == (printable(text) != text), printable(text)


def test_input_and_output_rules_agree_on_every_code_point():
    """Over the BMP and the planes of emoji, private use and tags: a character alone is
    refused by check_text if and only if printable escapes it; tab and newline are the
    allowances typed text has (printable escapes them in a one-line cell)."""
    for code in [*range(0x10000), *range(0x1F000, 0x20000), *range(0xE0000, 0xF0100)]:
        ch = chr(code)
        if ch in "\t\n":
            assert not refused(ch) and printable(ch) != ch
            continue
        assert refused(ch) == (printable(ch) != ch), f"U+{code:04X}"


def test_store_refuses_a_hidden_character_in_a_theme_name(tmp_path):
    from doorways_tui.store import StoreError

    with Library.open(tmp_path / "lib") as lib:
        lib.tree.add_theme("fine")
        for name in ("t\x1b]0;pwn\x07", "a\u200bb", "t\udcff", "x\u2028y"):
            with pytest.raises(StoreError, match="^theme name (contains|is not valid UTF-8)"):
                lib.tree.add_theme(name)
            with pytest.raises(StoreError, match="^theme name"):
                lib.tree.theme_by_name(name)  # the CLI's look-up checks names too
        assert [t.name for t in lib.tree.themes()] == ["fine"]
        assert lib.tree.add_theme(f"Scotland {SCOTLAND}").name == f"Scotland {SCOTLAND}"


