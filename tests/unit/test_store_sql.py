"""Every SQL statement of Doorways lives in the store; the concepts its queries share are
said once there; the views it makes for sqlite-utils and Datasette read right."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from doorways_tui.store.migrations import MIGRATIONS
from tests.fixtures_store import finish_fake, seed_jobs
from tests.store_shared import clock, lib  # noqa: F401  (fixtures)

PACKAGE = Path(__file__).resolve().parents[2] / "doorways_tui"
STORE = PACKAGE / "store"
SQL = re.compile(
    r"\b(SELECT\b.*\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
    r"|CREATE\s+(TABLE|INDEX|VIEW)|DROP\s+(TABLE|INDEX|VIEW)|PRAGMA\s+\w+|BEGIN\s+IMMEDIATE)\b",
    re.S,
)
RUNS_SQL = {"execute", "executemany", "executescript"}


def sql_outside_store(root: Path = PACKAGE) -> list[str]:
    """``file:line what`` for each SQL string literal, each ``.execute(...)`` call and each
    reach into a Library's connection (``.db``) in a module outside the store."""
    found: list[tuple[str, int, str]] = []
    for path in sorted(root.rglob("*.py")):
        if STORE in path.parents:
            continue
        where = path.relative_to(root.parent)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SQL.search(node.value):
                    found.append((str(where), node.lineno, f"SQL text {node.value[:40]!r}"))
            elif isinstance(node, ast.Attribute) and node.attr in RUNS_SQL | {"db"}:
                found.append((str(where), node.lineno, f".{node.attr}"))
    return [f"{where}:{line} {what}" for where, line, what in sorted(found)]


def test_no_sql_outside_the_store():
    assert sql_outside_store() == []


def test_the_scan_finds_sql_where_there_is_some(tmp_path):
    """The check above can fail: a module with a query, a cursor call or a reach into the
    library's connection is named, line by line."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(
        'ROWS = "SELECT id FROM images WHERE kind = ?"\n'
        "def f(lib):\n"
        "    lib.db.rows(ROWS)\n"
        "    conn.execute(f'UPDATE jobs SET status = {x!r}')\n"
        'OK = "select a card from the deck"\n'
    )
    found = sql_outside_store(tmp_path / "pkg")
    assert [line.split(" ", 1)[0] for line in found] == [
        "pkg/bad.py:1",
        "pkg/bad.py:3",
        "pkg/bad.py:4",
        "pkg/bad.py:4",
    ], found


def _store_queries() -> str:
    """The store's own query text: everything but the migrations (the schema keeps its
    copies there: the partial index on the untriaged images, the views)."""
    return "\n".join(p.read_text() for p in sorted(STORE.glob("*.py")) if p.name != "migrations.py")


@pytest.mark.parametrize(
    "concept",
    [
        r"door_count IS NULL AND \S*rejected = 0",  # "untriaged"
        r"JOIN variants v ON v\.id = i\.variant_id",  # images with their variant
    ],
)
def test_untriaged_and_the_image_join_are_said_once(concept):
    assert len(re.findall(concept, _store_queries())) == 1


# -- the views (migration 7) ----------------------------------------------------------------


def test_images_with_tags_reads_an_image_with_its_prompt_theme_and_tags(lib):
    jobs = seed_jobs(lib, 2, prompt="a door in the sea")
    first = finish_fake(lib, lib.claims.claim_job("w1"))
    lib.claims.claim_job("w1")  # the second stays running: no final image, not in the view
    lib.images.set_door_count(first, 3)
    lib.images.toggle_star(first)
    lib.images.set_note(first, "keep")
    with lib.db.locked() as db:
        rows = list(db["images_with_tags"].rows)
        columns = set(db["images_with_tags"].columns_dict)
    assert {"id", "path", "prompt", "theme", "seed", "starred", "rejected", "door_count",
            "rating", "note"} <= columns  # fmt: skip
    (row,) = rows
    image = lib.images.image(first)
    assert row["id"] == first and row["path"] == image.path
    assert (row["prompt"], row["theme"], row["seed"]) == (
        "a door in the sea",
        "doors",
        jobs[0].seed,
    )
    assert (row["door_count"], row["starred"], row["rejected"], row["note"]) == (3, 1, 0, "keep")


def test_jobs_with_prompts_shows_every_job_with_its_prompt(lib):
    jobs = seed_jobs(lib, 3, prompt="a door in the sky")
    lib.claims.claim_job("w1")
    with lib.db.locked() as db:
        listed = list(db["jobs_with_prompts"].rows)
    rows = {r["id"]: r for r in listed}
    assert [r["id"] for r in listed] == [j.id for j in jobs]  # in order, as a reader expects
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["created"]) for r in listed)
    assert {r["prompt"] for r in rows.values()} == {"a door in the sky"}
    assert sorted(r["status"] for r in rows.values()) == ["queued", "queued", "running"]


def test_each_migration_leaves_the_columns_it_says(lib):
    with lib.db.locked() as db:
        assert "origin" in db["undo_log"].columns_dict  # 6
        assert "lease" in db["jobs"].columns_dict  # 3
        assert "machine" in db["workers"].columns_dict  # 5
        assert {"images_with_tags", "jobs_with_prompts"} <= set(db.view_names())  # 7
        assert "group_name" in db["variants"].columns_dict  # 8
        assert "loss" in db["jobs"].columns_dict  # 9
        assert {"held", "rules_off"} <= set(db["jobs"].columns_dict)  # 11
        assert "stop_rules" in db.table_names()  # 11
        assert {"image_embeddings", "image_suggestions"} <= set(db.table_names())  # 12
    assert max(m[0] for m in MIGRATIONS) == 12


def test_a_sqlite_utils_insert_stays_inside_the_stores_transaction(lib):
    """sqlite-utils 3.x committed its own insert (and so the caller's BEGIN IMMEDIATE);
    4.x nests a savepoint. A write that fails after an insert must leave no row."""
    with pytest.raises(RuntimeError), lib.db.write():
        lib.db.db["themes"].insert({"name": "half-made", "created": 0.0})
        assert lib.db.db.conn.in_transaction
        raise RuntimeError("fails after the insert")
    assert [t.name for t in lib.tree.themes()] == []


def test_every_view_of_the_vocabulary_selects_something():
    from doorways_tui.core import triage as vocabulary
    from doorways_tui.store import VIEWS, ImageFilter

    assert (*(v.name for v in vocabulary.VIEWS), vocabulary.DOORS_VIEW) == VIEWS
    for view in VIEWS:
        where, _ = ImageFilter(view=view, door_count=2).where()
        assert where
