"""Init images are stored relative to the library (copied into it), so a library can move;
absolute paths stored before that still work."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image as PILImage

from doorways_tui.store import Library, StoreError
from doorways_tui.store.files import init_image_file, store_init_image
from doorways_tui.workstation import actions
from tests.fixtures_store import TINY, seed_jobs


def _red(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.new("RGB", (8, 8), "red").save(path)
    return path


def test_an_outside_init_image_is_copied_in_once_and_stored_relative(tmp_path):
    root = tmp_path / "lib"
    outside = _red(tmp_path / "pictures" / "door.PNG")
    with Library.open(root) as lib:
        jobs = seed_jobs(lib, 2, config={**TINY, "init_image": str(outside)})
        stored = {job.config_dict()["init_image"] for job in jobs}
        (relpath,) = stored
        assert relpath.startswith("inits/init-") and relpath.endswith(".png")
        assert lib.abspath(relpath).read_bytes() == outside.read_bytes()
        # The same picture queued again is not copied twice.
        assert store_init_image(root, str(outside)) == relpath
        assert len(list((root / "inits").iterdir())) == 1


def test_a_path_inside_the_library_is_named_relative_and_nothing_else_leaves_it(tmp_path):
    root = tmp_path / "lib"
    with Library.open(root):
        pass
    inside = _red(root / "inits" / "init-image-000003.png")
    assert store_init_image(root, str(inside)) == "inits/init-image-000003.png"
    assert store_init_image(root, "inits/x.png") == "inits/x.png"
    with pytest.raises(StoreError):
        store_init_image(root, "../../etc/passwd")
    assert store_init_image(root, str(tmp_path / "gone.png")) == str(tmp_path / "gone.png")
    assert init_image_file(root, "inits/x.png") == str(root / "inits" / "x.png")


def test_the_app_init_run_stores_the_copy_relative(tmp_path):
    from tests.library_fixtures import populate

    root = tmp_path / "lib"
    populate(root, seeds=1, child=False)
    with Library.open(root) as lib:
        image = lib.images.image(1)
        path = actions.prepare_init(lib, image)
        actions.queue_init(lib, image, actions.InitRun(path))
        (job,) = lib.queue.jobs(status="queued")
        assert job.config_dict()["init_image"] == f"inits/{path.name}"


def test_old_absolute_paths_work_and_follow_a_moved_library(tmp_path):
    old_root, new_root = tmp_path / "old", tmp_path / "new"
    with Library.open(old_root):
        pass
    copy = _red(old_root / "inits" / "init-image-000001.png")
    elsewhere = _red(tmp_path / "pictures" / "p.png")
    # As stored before init paths were relative: absolute, into the library or elsewhere.
    assert init_image_file(old_root, str(copy)) == str(copy)
    shutil.move(old_root, new_root)
    assert init_image_file(new_root, str(copy)) == str(new_root / "inits" / copy.name)
    assert init_image_file(new_root, str(elsewhere)) == str(elsewhere)
    # A reroll of such a job stores the moved copy relative.
    assert store_init_image(new_root, str(copy)) == f"inits/{copy.name}"
