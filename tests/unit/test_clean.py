"""doorways clean: rejected images to the library's trash, and back."""

from __future__ import annotations

import io

from doorways_tui.cli import main
from doorways_tui.store import ImageFilter
from doorways_tui.workstation import clean
from tests.export_shared import lib  # noqa: F401  (fixtures)


def _reject(lib, *ids):
    for image_id in ids:
        lib.images.toggle_reject(image_id)
    return {i: lib.images.image(i) for i in ids}


def test_clean_moves_rejected_images_to_the_trash_and_undo_puts_them_back(lib):
    rejected = _reject(lib, 3, 5)
    data = {i: lib.abspath(im.path).read_bytes() for i, im in rejected.items()}
    plan = clean.plan_clean(lib)
    assert [r["id"] for r in plan.rows] == [3, 5] and plan.size == sum(map(len, data.values()))
    done = clean.clean_rejected(lib, plan)
    assert done.removed == 2 and done.batch.parent == lib.root / "trash"
    assert lib.images.final_count() == 4
    for image in rejected.values():
        assert not lib.abspath(image.path).exists()
        assert (done.batch / image.path).read_bytes() == data[image.id]
    assert clean.plan_clean(lib).rows == []

    back = clean.restore_last(lib)
    assert back is not None and (back.restored, back.left) == (2, 0)
    assert not done.batch.exists() and clean.restore_last(lib) is None
    for image_id, image in rejected.items():
        again = lib.images.image(image_id)
        assert again == image  # the whole row, marks and all
        assert lib.abspath(image.path).read_bytes() == data[image_id]


def test_an_image_unrejected_while_cleaning_stays(lib):
    _reject(lib, 3, 5)
    plan = clean.plan_clean(lib)
    lib.images.toggle_reject(5)  # the app un-rejects it before the clean deletes
    done = clean.clean_rejected(lib, plan)
    assert done.removed == 1
    assert lib.abspath(lib.images.image(5).path).is_file()
    images, size = clean.empty_trash(lib)
    assert images == 1 and size > 0 and clean.batches(lib) == []


def test_a_restored_row_whose_id_was_reused_gets_a_new_one(lib):
    rejected = _reject(lib, 6)[6]
    clean.clean_rejected(lib, clean.plan_clean(lib))
    # A new image takes id 6 (SQLite reuses the largest id once it is free).
    lib.db.execute(
        "INSERT INTO images(job_id, variant_id, path, kind, step, width, height, sha256,"
        " created) SELECT job_id, variant_id, 'images/new.png', 'preview', 1, 1, 1, 'x', 0"
        " FROM images WHERE id = 1"
    )
    back = clean.restore_last(lib)
    assert back.restored == 1
    (row,) = lib.images.images(ImageFilter(view="rejected"))
    assert row.id != 6 and row.path == rejected.path


def test_cli_refuses_without_a_terminal_and_cleans_with_yes(lib, capsys, monkeypatch):
    _reject(lib, 2)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    code = main(["--library", str(lib.root), "clean", "--rejected"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--yes" in err and "1 rejected" in err
    assert lib.images.final_count() == 6  # nothing changed
    code = main(["--library", str(lib.root), "clean", "--rejected", "--yes"])
    out = capsys.readouterr().out
    assert code == 0 and "moved 1 rejected image(s)" in out and "--undo" in out
    assert lib.images.final_count() == 5
    code = main(["--library", str(lib.root), "clean", "--undo"])
    assert code == 0 and "restored 1 image(s)" in capsys.readouterr().out
    assert lib.images.final_count() == 6
    code = main(["--library", str(lib.root), "clean", "--rejected", "--yes"])
    code = main(["--library", str(lib.root), "clean", "--empty-trash", "--yes"])
    assert code == 0 and "deleted 1 image(s)" in capsys.readouterr().out
    code = main(["--library", str(lib.root), "clean"])  # say what to clean
    assert code == 2 and "--rejected" in capsys.readouterr().err
