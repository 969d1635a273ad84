"""The app never loads torch: only the worker and ``generate`` do. What the app does with
models (the new-theme dialog's check, ``theme preview``/``queue``, ``models list``) reads
the registry and the model cache, and each case runs in a fresh interpreter that then
lists ``sys.modules``. (tests/unit/test_import_hygiene.py checks what importing each folder
loads; this checks what running these paths loads.)"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fixtures_store import ROOT, subprocess_env

REQUEST = """
from doorways_tui.themes.request import build_request
request = build_request(text="heaven / hell", check=True, model_dir=MODELS, **KW)
result = request.models.line(), request.models.ready
"""

CLI = """
from doorways_tui.cli import main
result = main(ARGS)
"""

CASES = {
    "dialog-demo": (REQUEST, {"KW": {"models": "demo"}}, ("demo + demo", True)),
    "dialog-missing": (REQUEST, {"KW": {}}, ("not downloaded", False)),
    "dialog-unknown": (REQUEST, {"KW": {"vqgan": "nope"}}, ("nope + ViT-B/32", False)),
    "theme-preview": (CLI, {"ARGS": ["theme", "preview", "example-small"]}, 0),
    "theme-preview-demo": (
        CLI,
        {"ARGS": ["theme", "preview", "example-small", "--models", "demo"]},
        0,
    ),
    "theme-queue-dry": (
        CLI,
        {"ARGS": ["theme", "queue", "example-small", "--models", "demo", "--dry-run"]},
        0,
    ),
    "models-list": (CLI, {"ARGS": ["models", "list"]}, 0),
}


@pytest.mark.parametrize("case", CASES)
def test_the_app_paths_that_touch_models_never_load_torch(case, tmp_path: Path):
    code, names, expected = CASES[case]
    models = tmp_path / "models"  # empty: nothing downloaded, the demo not built
    script = "\n".join(
        [
            "import json, sys",
            f"MODELS = {str(models)!r}",
            *(f"{name} = {value!r}" for name, value in names.items()),
            textwrap.dedent(code),
            "print(json.dumps({'result': result, 'torch': 'torch' in sys.modules}))",
        ]
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(tmp_path / "library", models),
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["torch"] is False, f"{case} loaded torch"
    if isinstance(expected, tuple):
        line, ready = report["result"]
        assert expected[0] in line and ready is expected[1]
    else:
        assert report["result"] == expected
    assert not (models / "demo").exists()  # the check builds nothing: the worker does
