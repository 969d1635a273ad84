"""Bad input at every door: one line (``doorways: error: ...``, exit 2), no traceback, and
the library unchanged. A stored row an older version wrote with NaN fails alone when a
worker claims it. Broken and malicious files are built here, in tmp_path."""

from __future__ import annotations

import json
import math
import pickle
import re
import sqlite3
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

import doorways_tui.worker.runner as runner_module
from doorways_engine.config import SQLITE_INT_MAX
from doorways_tui.cli import main
from doorways_tui.store import Library, StoreError
from doorways_tui.worker.loop import run_worker
from doorways_tui.worker.options import WorkerOptions
from tests.fixtures_store import TINY, seed_jobs

BIG = str(SQLITE_INT_MAX + 1)
HUGE = "9" * 30


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


class RunsCode:
    """Unpickled in full, this touches a marker file: a stand-in for any payload."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def theme_text(settings: str = "", **top: str) -> str:
    head = "".join(f"{k} = {v}\n" for k, v in {"name": '"T"', **top}.items())
    return f'{head}[settings]\n{settings}\n[[groups]]\nname = "G"\npairs = [["heaven", "hell"]]\n'


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    import torch

    (tmp_path / "folder.png").mkdir()
    (tmp_path / "afile").write_text("not a folder")
    Image.new("RGB", (8, 8), (0, 90, 200)).save(tmp_path / "blue.png")
    (tmp_path / "notes.txt").write_text("not a run state " * 100)
    torch.save({"z": torch.zeros(3)}, tmp_path / "wrong-state.pt")
    torch.save({"payload": RunsCode(tmp_path / "MARKER")}, tmp_path / "evil.pt")
    themes = {
        "nan": theme_text("edge_symmetry = nan"),
        "inf": theme_text("tone_symmetry = -inf"),
        "abc": theme_text('steps = "abc"'),
        "list": theme_text("cutn = [1]"),
        "bool": theme_text("init_weight = true"),
        "cutpow": theme_text("cut_pow = -1.0"),
        "count": theme_text(seeds="100000000000"),
        "bigseed": theme_text(seeds=f"[0, {BIG}]"),
        "width": theme_text(template='"{doorway} to {subject:99999999999}"'),
        "conv": theme_text(template='"{doorway} to {subject!r}"'),
        "deep": theme_text(deep="[" * 10_000 + "]" * 10_000),
        "digits": theme_text("steps = " + "9" * 5000),
        "esc": theme_text(name='"T\\u001b]0;pwned\\u0007"'),
        "bidi": theme_text(description='"a \\u202e b"'),
    }
    for name, text in themes.items():
        (tmp_path / f"{name}.toml").write_text(text, encoding="utf-8")
    (tmp_path / "subject.toml").write_text(
        theme_text().replace('"hell"', '"he\\u009bll"'), encoding="utf-8"
    )
    return {
        "tmp": tmp_path,
        "bomb": png_header(tmp_path / "bomb.png", 20_000, 20_000),  # PIL's error
        "warn": png_header(tmp_path / "warn.png", 10_000, 10_000),  # PIL only warns
        "big": png_header(tmp_path / "big.png", 9_000, 9_000),  # under PIL's limits
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A library with a few queued jobs, which no bad command may change."""
    with Library.open(tmp_path / "lib") as lib:
        seed_jobs(lib, 3)
    return tmp_path / "lib"


def dump(root: Path) -> str:
    with sqlite3.connect(root / "library.db") as conn:
        return "\n".join(conn.iterdump())


def cli(capsys, root: Path, *argv: str) -> tuple[int, str]:
    code = main(["--library", str(root), *argv])  # usage errors too return, never exit
    return code, capsys.readouterr().err


def gen(*extra: str) -> list[str]:
    return ["generate", "door", "--models", "demo", "-o", "{tmp}/o.png", *extra]


def add(*extra: str) -> list[str]:
    return ["queue", "add", "door", "--models", "demo", *extra]


CASES = {
    # numbers NaN passed, or out of range, from the generation options
    "edge-nan": (gen("--edge-symmetry", "nan"), "edge_symmetry must be a finite number"),
    "tone-inf": (gen("--tone-symmetry", "inf"), "tone_symmetry must be a finite number"),
    "init-weight-nan": (gen("--init-weight", "nan"), "init_weight must be a finite number"),
    "cut-pow-nan": (gen("--cut-pow", "nan"), "cut_pow must be a finite number"),
    "cut-pow-neg": (gen("--cut-pow", "-1"), "cut_pow must be from 0 to 10"),
    "lr-nan": (gen("--lr", "nan"), "lr must be a finite number"),
    "sym-blur-neg": (gen("--symmetry-blur", "-1"), "symmetry_blur must be from 0"),
    "init-blur-neg": (gen("--init-blur", "-3"), "init_blur must be from 0"),
    "seed-neg": (gen("--seed", "-1"), "seed must be from 0"),
    "seed-big": (gen("--seed", BIG), "seed must be from 0 to 9223372036854775807"),
    "steps-huge": (gen("--steps", HUGE), "steps must be from 0 to 100000"),
    "steps-absurd": (gen("--steps", "100001"), "more is absurd"),
    "steps-text": (gen("--steps", "abc"), "'abc' is not a whole number"),
    "cutn-huge": (gen("--cutn", "100000"), "cutn must be from 1 to 1024"),
    "preview-neg": (gen("--preview-every", "-1"), "preview_every must be from 0"),
    "size-digits": (gen("--size", "9" * 5000), "is far too large"),
    "size-wide": (gen("--size", "100000x16"), "width must be from 1 to 16384"),
    "weight-inf": (["generate", "door:1e999", "-o", "{tmp}/o.png"], "weight inf"),
    "prompt-esc": (["generate", "door\x1b]52;c;aGk=\x07", "-o", "{tmp}/o.png"], "(U+001B)"),
    "prompt-bidi": (["generate", "door\u202eevil", "-o", "{tmp}/o.png"], "U+202E"),
    "style-esc": (gen("--style", "\x1b[2J"), "style contains a control character"),
    # typed text the terminal would escape is refused (engine/text.py), and bytes that were
    # not UTF-8 (argv arrives with surrogateescape: b"\xff" as "\udcff") are named
    "add-not-utf8": (
        ["queue", "add", "--models", "demo", "abc\udcff"],
        "prompt is not valid UTF-8 (byte \\xff at position 4)",
    ),
    "gen-not-utf8": (["generate", "door\udcff", "-o", "{tmp}/o.png"], "is not valid UTF-8"),
    "style-not-utf8": (add("--style", "s\udcff"), "style is not valid UTF-8 (byte \\xff at"),
    "theme-not-utf8": (add("--theme", "t\udcff"), "theme name is not valid UTF-8 (byte"),
    "theme-name-esc": (
        add("--theme", "t\x1b]0;pwn\x07"),
        "theme name contains a control character (U+001B) at position 2",
    ),
    "theme-name-bidi": (add("--theme", "t\u202eevil"), "theme name contains a control"),
    "theme-name-zwsp": (add("--theme", "a\u200bb"), "theme name contains a hidden character"),
    "prompt-zwsp": (
        ["queue", "add", "--models", "demo", "abc\u200b\U000e0041def"],
        "prompt contains a hidden character (U+200B ZERO WIDTH SPACE) at position 4",
    ),
    "prompt-tag": (
        ["queue", "add", "--models", "demo", "abc\U000e0041def"],
        "(U+E0041 TAG LATIN CAPITAL LETTER A) at position 4",
    ),
    "style-bom": (add("--style", "\ufeffoil"), "(U+FEFF ZERO WIDTH NO-BREAK SPACE) at position 1"),
    "style-word-joiner": (gen("--style", "a\u2060b"), "(U+2060 WORD JOINER)"),
    "prompt-line-sep": (["queue", "add", "a\u2028b"], "hidden character (U+2028 LINE SEPARATOR)"),
    # files
    "init-bomb": (gen("--init-image", "{bomb}"), "too large to read safely"),
    "init-bomb-warning": (gen("--init-image", "{warn}"), "too large to read safely"),
    "prompt-big": (gen("--image-prompt", "{big}:0.5"), "9000x9000 is too large"),
    "prompt-weight-nan": (gen("--image-prompt", "{tmp}/blue.png:nan"), "has weight nan"),
    "resume-text": (gen("--resume", "{tmp}/notes.txt"), "is not a Doorways run state"),
    "resume-wrong": (gen("--resume", "{tmp}/wrong-state.pt"), "it has no gen, noise_gen, step"),
    "resume-evil": (gen("--resume", "{tmp}/evil.pt"), "which could run code"),
    "resume-folder": (gen("--resume", "{tmp}/folder.png"), "is a folder"),
    "output-folder": (["generate", "door", "-o", "{tmp}/folder.png"], "-o {tmp}/folder.png is a"),
    "output-under-file": (["generate", "door", "-o", "{tmp}/afile/o.png"], "is a file, not a"),
    "previews-file": (gen("--previews", "{tmp}/afile"), "--previews {tmp}/afile is a file"),
    # integers SQLite cannot hold, and the queue's ids
    "add-nan": (add("--edge-symmetry", "nan"), "edge_symmetry must be a finite number"),
    "add-weight": (["queue", "add", "door:-1e999"], "weight -inf"),
    "add-priority": (add("--priority", BIG), f"argument --priority: '{BIG}' is not from"),
    "add-variant": (add("--variant", BIG), "argument --variant"),
    "add-seeds": (add("--seeds", HUGE), "is larger than 9223372036854775807"),
    "add-seed-range": (add("--seeds", f"1-{HUGE}"), "is larger than"),
    "add-seed": (add("--seed", str(2**64)), "seed must be from 0"),
    "list-limit": (["queue", "list", "--limit", BIG], "argument --limit"),
    "list-limit-text": (["queue", "list", "--limit", "ten"], "'ten' is not a whole number"),
    "cancel-id": (["queue", "cancel", BIG], "argument ID"),
    "cancel-zero": (["queue", "cancel", "0"], "is not from 1 to"),
    "retry-id": (["queue", "retry", HUGE], "argument ID"),
    # a worker's timing
    "poll-zero": (["worker", "--poll", "0"], "argument --poll: '0' is not a number of seconds"),
    "poll-nan": (["worker", "--poll", "nan"], "argument --poll"),
    "stale-short": (["worker", "--stale-after", "2"], "from 30 to 86400"),
    "stale-inf": (["worker", "--stale-after", "inf"], "argument --stale-after"),
    "status-stale-nan": (["status", "--stale-after", "nan"], "a number of seconds"),
    "export-doors": (["export", "--doors", "12", "{tmp}/out"], "from 0 to 9"),
    "batch-neg": (["worker", "--batch", "-1"], "argument --batch: '-1' is not from 0 to 64"),
    "batch-huge": (["worker", "--batch", "1000"], "argument --batch"),
    "max-jobs-neg": (["worker", "--max-jobs", "-1"], "argument --max-jobs"),
    "max-jobs-zero": (["worker", "--max-jobs", "0"], "argument --max-jobs"),
    "checkpoint-inf": (["worker", "--checkpoint-every", "inf"], "argument --checkpoint-every"),
    # theme files
    "theme-nan": (["theme", "preview", "{tmp}/nan.toml"], "nan.toml:3: settings: edge_symmetry"),
    "theme-inf": (["theme", "queue", "{tmp}/inf.toml"], "tone_symmetry must be a finite number"),
    "theme-abc": (["theme", "queue", "{tmp}/abc.toml"], "steps must be a whole number, got 'abc'"),
    "theme-list": (["theme", "preview", "{tmp}/list.toml"], "cutn must be a whole number"),
    "theme-bool": (["theme", "preview", "{tmp}/bool.toml"], "init_weight must be a number"),
    "theme-cutpow": (["theme", "queue", "{tmp}/cutpow.toml"], "cut_pow must be from 0 to 10"),
    "theme-count": (["theme", "queue", "{tmp}/count.toml"], "seeds must be a count from 1"),
    "theme-bigseed": (["theme", "queue", "{tmp}/bigseed.toml"], "seeds must be a count"),
    "theme-width": (["theme", "preview", "{tmp}/width.toml"], "without a format or conversion"),
    "theme-conv": (["theme", "queue", "{tmp}/conv.toml"], "write {{subject}} plainly"),
    "theme-deep": (["theme", "queue", "{tmp}/deep.toml"], "nested too deeply"),
    "theme-digits": (["theme", "queue", "{tmp}/digits.toml"], "digits.toml: not valid TOML"),
    "theme-esc": (["theme", "preview", "{tmp}/esc.toml"], "esc.toml:1: name contains a control"),
    "theme-bidi": (["theme", "queue", "{tmp}/bidi.toml"], "description contains a control"),
    "theme-subject": (["theme", "queue", "{tmp}/subject.toml"], "(U+009B) at position 3"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_changes_nothing(case, files, root, capsys):
    argv, expected = CASES[case]
    fill = {k: str(v) for k, v in files.items()}
    before = dump(root)
    code, err = cli(capsys, root, *(a.format(**fill) if "{" in a else a for a in argv))
    assert code == 2, err
    assert err.startswith("doorways: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert expected.format(**fill) in err
    assert dump(root) == before
    assert not (files["tmp"] / "o.png").exists()
    assert not (files["tmp"] / "MARKER").exists()


def test_theme_seeds_option_beyond_the_cap_is_one_line(files, root, capsys, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(theme_text("steps = 2"), encoding="utf-8")
    before = dump(root)
    code, err = cli(capsys, root, "theme", "queue", str(good), "--seeds", HUGE)
    assert code == 2 and err.startswith("doorways: error: seeds must be from 1 to 10000")
    assert dump(root) == before


CONFIG_FILES = {
    "not-utf8": (b"device = \xff\xfe\n", "not UTF-8 text"),
    "deep": (b"x = " + b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
    "protocol-int": (b"image_protocol = 3\n", "setting image_protocol must be text, got 3"),
    "protocol-bool": (b"image_protocol = true\n", "setting image_protocol must be text"),
    "model-dir-blank": (b'model_dir = " "\n', "setting model_dir must be a path"),
    "device-int": (b"device = 5\n", "setting device must be text, got 5"),
    "models-list": (b"model_dir = [1]\n", "setting model_dir must be a path"),
    "keymap-int": (b"keymap = 3\n", "setting keymap must be a table"),
    "keymap-values": (
        b'[keymap]\n"triage.star" = 1\n',
        "setting keymap: 'triage.star' = 1 is not keys",
    ),
    "protocol": (b'image_protocol = "vt100"\n', "image_protocol 'vt100' is not one of"),
    "digits": (b"device = " + b"9" * 5000 + b"\n", "Exceeds the limit"),
}


@pytest.mark.parametrize("case", CONFIG_FILES)
@pytest.mark.parametrize("command", [["queue", "list"], gen(), ["theme", "list"]])
def test_bad_config_file_is_one_line(case, command, root, tmp_path, capsys, monkeypatch):
    content, expected = CONFIG_FILES[case]
    config = tmp_path / "config.toml"
    config.write_bytes(content)
    monkeypatch.setenv("DOORWAYS_CONFIG", str(config))
    monkeypatch.delenv("DOORWAYS_DEVICE")
    monkeypatch.delenv("DOORWAYS_MODEL_DIR")
    if command == ["theme", "list"]:  # reads no settings: only the app and workers do
        command = ["status"]
    before = dump(root)
    code, err = cli(capsys, root, *(a.format(tmp=tmp_path) for a in command))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"doorways: error: {config}: ") and expected in err, err
    assert dump(root) == before


def test_a_config_file_with_a_bom_and_good_types_is_read(tmp_path, monkeypatch):
    from doorways_tui.core.settings import load_settings

    config = tmp_path / "config.toml"
    config.write_bytes(b'\xef\xbb\xbfimage_protocol = "sixel"\n[keymap]\n"triage.star" = "space"\n')
    settings = load_settings(config)
    assert settings.image_protocol == "sixel" and settings.keymap == {"triage.star": "space"}
    monkeypatch.setenv("DOORWAYS_IMAGE_PROTOCOL", "nan")
    with pytest.raises(Exception, match="DOORWAYS_IMAGE_PROTOCOL: image_protocol 'nan' is not"):
        load_settings(config)


def test_a_malicious_run_state_never_runs_code(files, root, capsys, monkeypatch):
    """--resume reads a state as data only, even where torch is told to unpickle fully."""
    evil, marker = files["tmp"] / "evil.pt", files["tmp"] / "MARKER"
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    code, err = cli(capsys, root, *[a.format(tmp=files["tmp"]) for a in gen("--resume", str(evil))])
    assert code == 2 and "which could run code" in err and not marker.exists()
    import torch  # the file really carries code: a full unpickle runs it

    torch.load(evil, weights_only=False)
    assert marker.exists()


# -- a claim never crashes on a bad row -------------------------------------------------------

FAST = {**TINY, "steps": 2, "preview_every": 0}
OLD_NAN_ROW = json.dumps({**FAST, "prompts": "door", "edge_symmetry": math.nan, "seed": 1})


@pytest.fixture
def lib(tmp_path):
    library = Library.open(tmp_path / "claims")
    yield library
    library.close()


@pytest.fixture
def shared_models(monkeypatch, demo_models) -> None:
    monkeypatch.setattr(runner_module, "load_models", lambda config, **kw: demo_models)


def poison(lib: Library, job_id: int, text: str) -> None:
    """Overwrite a job's stored config as an older or foreign writer could have."""
    lib.db.execute("UPDATE jobs SET config = ? WHERE id = ?", (text, job_id))


def test_the_old_writers_nan_is_malformed_json_to_sqlite(lib):
    """Why the store writes strict JSON: this row stops any query with json_extract."""
    (job,) = seed_jobs(lib, 1, config=FAST)
    poison(lib, job.id, OLD_NAN_ROW)
    assert "NaN" in OLD_NAN_ROW
    with pytest.raises(sqlite3.OperationalError, match="malformed JSON"):
        lib.db.rows("SELECT json_extract(config, '$.width') FROM jobs")


def test_a_claim_fails_bad_rows_alone_and_takes_the_next(lib):
    jobs = seed_jobs(lib, 4, config=FAST)
    poison(lib, jobs[0].id, OLD_NAN_ROW)
    poison(lib, jobs[1].id, json.dumps({**FAST, "cutn": 10**6}))
    poison(lib, jobs[2].id, "{not json")
    claimed = lib.claims.claim_job("w")
    assert claimed is not None and claimed.id == jobs[3].id
    failed = {j.id: j for j in lib.queue.jobs(status="failed")}
    assert sorted(failed) == [j.id for j in jobs[:3]]
    assert "edge_symmetry must be a finite number, got nan" in failed[jobs[0].id].error
    assert "cutn must be from 1 to 1024" in failed[jobs[1].id].error
    assert "not valid JSON" in failed[jobs[2].id].error
    assert lib.claims.claim_job("w") is None
    assert {e.payload()["job_id"] for e in lib.history.events(kind="job_failed")} == set(failed)


def test_a_batching_claim_skips_a_malformed_row_without_crashing(lib):
    good, bad, other = seed_jobs(lib, 3, config=FAST)
    poison(lib, bad.id, OLD_NAN_ROW)
    first = lib.claims.claim_job("w")
    assert first.id == good.id
    more = lib.claims.claim_job("w", like={"width": 64}, defaults={"width": 256})
    assert more.id == other.id  # the malformed row is not its size: it waits, unclaimed
    assert lib.queue.job(bad.id).status == "queued"
    assert lib.claims.claim_job("w") is None  # a plain claim reaches it, and fails it
    assert lib.queue.job(bad.id).status == "failed"


@pytest.mark.parametrize("batch", [1, 4])
def test_a_worker_fails_nan_rows_and_finishes_the_rest(lib, model_dir, shared_models, batch):
    """With batches, the NaN row crashed every claim (and every restart); alone, it ran to
    an all-black image marked done. Now it fails with its reason, and the rest run."""
    jobs = seed_jobs(lib, 4, config=FAST)
    poison(lib, jobs[1].id, OLD_NAN_ROW)
    options = WorkerOptions(
        device="cpu", model_dir=model_dir, worker_id="w", exit_when_idle=True, batch=batch
    )
    run_worker(lib, options, install_signals=False)
    status = {j.id: (j.status, j.error or "") for j in lib.queue.jobs()}
    assert [status[j.id][0] for j in jobs] == ["done", "failed", "done", "done"]
    assert "edge_symmetry must be a finite number" in status[jobs[1].id][1]
    assert len(lib.images.images()) == 3 and not lib.queue.jobs(status="running")


def test_the_store_refuses_to_write_nan(lib):
    from doorways_tui.store import StoreError

    theme = lib.tree.add_theme("doors")
    variant = lib.tree.root_variant(theme_id=theme.id, prompt="door")
    with pytest.raises(StoreError, match=r"job config holds a number that is not finite \(lr\)"):
        lib.queue.queue_jobs(variant.id, [0], {**FAST, "lr": math.nan})
    with pytest.raises(StoreError, match="not finite"):
        lib.history.log_event("note", value=math.inf)
    assert lib.queue.jobs() == []


def test_pickle_payload_helper_is_real():
    """The RunsCode stand-in pickles to a call, so the tests above can fail."""
    assert b"touch" in pickle.dumps(RunsCode(Path("x")))


# -- every way into the queue checks the config, not only the CLI's -------------------------


@pytest.mark.parametrize(
    ("prompt", "says"),
    [
        ("door\x1b]0;PWNED\x07", "control character (U+001B"),
        ("door\u202e", "control character (U+202E"),
        ("door:1e999", "weight"),
    ],
)
def test_an_app_edit_that_cannot_run_is_refused_before_it_is_queued(lib, prompt, says):
    """The app's prompt edits reach the store without a GenerationConfig: the store checks
    what it queues, so nothing that would fail at its claim (or drive a terminal) enters."""
    (job,) = seed_jobs(lib, 1)
    before = (
        lib.db.scalar("SELECT COUNT(*) FROM variants"),
        lib.db.scalar("SELECT COUNT(*) FROM jobs"),
    )
    with pytest.raises(StoreError, match=r"nothing queued: .*" + re.escape(says)):
        lib.queue.spawn(
            parent_id=job.variant_id, prompt=prompt, edit_kind="free", seeds=[1, 2],
            config=json.loads(job.config),
        )  # fmt: skip
    after = (
        lib.db.scalar("SELECT COUNT(*) FROM variants"),
        lib.db.scalar("SELECT COUNT(*) FROM jobs"),
    )
    assert after == before
