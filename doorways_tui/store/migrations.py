"""Numbered schema migrations, each applied once and recorded in ``schema_migrations``.

Append new migrations to ``MIGRATIONS``; never edit one that has shipped. ``migrate`` runs
inside one ``BEGIN IMMEDIATE`` transaction, so two processes opening a new library at the
same moment apply each migration exactly once, and running it again is a no-op.

The schema's version is also kept in ``PRAGMA user_version`` and the Doorways version that
wrote it in ``meta``: an older Doorways refuses to write to a newer library (and says which
version it needs) instead of writing rows the newer schema does not expect. Reading such a
library is allowed: a migration only adds.

Times are unix seconds (REAL). Paths are relative to the library folder.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from doorways_tui import __version__
from doorways_tui.store.db import Database, StoreError, retry_busy

Migration = tuple[int, str, str]

_SCHEMA_1 = """
CREATE TABLE themes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE variants (
    id INTEGER PRIMARY KEY,
    theme_id INTEGER NOT NULL REFERENCES themes(id),
    parent_id INTEGER REFERENCES variants(id),
    prompt TEXT NOT NULL,
    style TEXT NOT NULL DEFAULT '',
    edit_kind TEXT NOT NULL CHECK (edit_kind IN ('root', 'reroll', 'modifier', 'free', 'theme')),
    edit_text TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE INDEX idx_variants_theme ON variants(theme_id, id);
CREATE INDEX idx_variants_parent ON variants(parent_id);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    variant_id INTEGER NOT NULL REFERENCES variants(id),
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    priority INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    step INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    it_per_s REAL,
    eta_s REAL,
    worker_id TEXT,
    heartbeat REAL,
    checkpoint TEXT,
    checkpoint_step INTEGER,
    seconds REAL,
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX idx_jobs_claim ON jobs(status, priority DESC, id);
CREATE INDEX idx_jobs_variant ON jobs(variant_id, status);
CREATE INDEX idx_jobs_finished ON jobs(finished) WHERE finished IS NOT NULL;

CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    variant_id INTEGER NOT NULL REFERENCES variants(id),
    path TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('final', 'preview')),
    step INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    door_count INTEGER CHECK (door_count IS NULL OR door_count BETWEEN 0 AND 9),
    rejected INTEGER NOT NULL DEFAULT 0 CHECK (rejected IN (0, 1)),
    starred INTEGER NOT NULL DEFAULT 0 CHECK (starred IN (0, 1)),
    rating INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
    note TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE UNIQUE INDEX idx_images_job_kind ON images(job_id, kind);
CREATE INDEX idx_images_variant ON images(variant_id, kind, id);
CREATE INDEX idx_images_kind ON images(kind, id);
CREATE INDEX idx_images_untriaged ON images(id)
    WHERE kind = 'final' AND door_count IS NULL AND rejected = 0;
CREATE INDEX idx_images_starred ON images(id) WHERE kind = 'final' AND starred = 1;
CREATE INDEX idx_images_rejected ON images(id) WHERE kind = 'final' AND rejected = 1;
CREATE INDEX idx_images_doors ON images(door_count, id) WHERE kind = 'final';

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    device TEXT NOT NULL,
    started REAL NOT NULL,
    heartbeat REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('starting', 'idle', 'running', 'stopping', 'stopped')),
    current_job INTEGER,
    jobs_done INTEGER NOT NULL DEFAULT 0,
    log_path TEXT
);
CREATE INDEX idx_workers_heartbeat ON workers(heartbeat);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_events_ts ON events(ts);

CREATE TABLE undo_log (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_undo_open ON undo_log(id) WHERE undone = 0;
"""

# The partial image indexes of 1 name the kind in their WHERE clause, which SQLite can only
# match against a literal ``kind = 'final'``; the store binds the kind as a parameter, so
# they were never used. Keyed on (kind, id) they serve the bound queries.
_IMAGE_INDEXES_BY_KIND = """
DROP INDEX idx_images_untriaged;
CREATE INDEX idx_images_untriaged ON images(kind, id) WHERE door_count IS NULL AND rejected = 0;
DROP INDEX idx_images_starred;
CREATE INDEX idx_images_starred ON images(kind, id) WHERE starred = 1;
DROP INDEX idx_images_rejected;
CREATE INDEX idx_images_rejected ON images(kind, id) WHERE rejected = 1;
DROP INDEX idx_images_doors;
CREATE INDEX idx_images_doors ON images(kind, door_count, id);
"""

# ``attempts`` goes down on a release and back to 0 on a retry, so it cannot say which claim
# of a job a worker holds. ``lease`` only ever goes up: each claim gets a new one, and a
# worker's writes count only while the job still carries its lease.
_JOB_LEASE = """
ALTER TABLE jobs ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;
"""

# Facts about the library itself; ``needs_doorways``: the Doorways that wrote its schema.
_META = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# A host name does not say whose pids a worker can see: containers sharing one (host-network
# pods, cloned VMs) do not share a pid namespace. ``machine`` (``claims.this_machine``) does;
# a row without one (registered before this) is judged by its heartbeat alone.
_WORKER_MACHINE = """
ALTER TABLE workers ADD COLUMN machine TEXT;
"""

# Undo is per process: ``u`` in the app undoes its own steps and asks before undoing one
# made elsewhere (in another window of the app, or before it restarted). Steps written
# before this have no origin.
_UNDO_ORIGIN = """
ALTER TABLE undo_log ADD COLUMN origin TEXT;
"""

# Views for people who open the library with the ``sqlite-utils`` CLI or Datasette: the
# finished images with their tags and prompts, and the jobs with theirs.
_VIEWS = """
CREATE VIEW images_with_tags AS
SELECT i.id, i.path, t.name AS theme, v.prompt, v.style, j.seed,
       i.starred, i.rejected, i.door_count, i.rating, i.note,
       i.variant_id, i.job_id, i.width, i.height,
       datetime(i.created, 'unixepoch') AS created
FROM images i
JOIN variants v ON v.id = i.variant_id
JOIN themes t ON t.id = v.theme_id
JOIN jobs j ON j.id = i.job_id
WHERE i.kind = 'final'
ORDER BY i.id;
CREATE VIEW jobs_with_prompts AS
SELECT j.id, t.name AS theme, v.prompt, v.style, j.seed, j.status,
       j.step, j.total, j.attempts, j.worker_id, j.error, j.seconds,
       j.variant_id, datetime(j.created, 'unixepoch') AS created,
       datetime(j.started, 'unixepoch') AS started,
       datetime(j.finished, 'unixepoch') AS finished
FROM jobs j
JOIN variants v ON v.id = j.variant_id
JOIN themes t ON t.id = v.theme_id
ORDER BY j.id;
"""

# A theme's groups (its headings: Afterlife, Nature...) for the tree's theme -> group ->
# variant. Written by ``themes.library.queue_theme``; NULL for variants made before this
# and for those not from a theme's group (``queue add``, edits of a prompt by hand).
_VARIANT_GROUP = """
ALTER TABLE variants ADD COLUMN group_name TEXT;
"""

# The total loss at a running job's latest report step, written with its progress, so a
# watch view can show each live run's loss trend. NULL until the first report.
_JOB_LOSS = """
ALTER TABLE jobs ADD COLUMN loss REAL;
"""

# Stop rules (issue 17; ``store/rules.py``): the values each rule has for the whole queue
# (theme_id 0) or one theme (its value wins; 0 turns the rule off there). ``jobs.held`` says
# why a queued job waits (a rule held it; claims skip it until it is released); a job
# whose rule action the artist undid has ``rules_off`` and no rule touches it again.
_STOP_RULES = """
CREATE TABLE stop_rules (
    theme_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (theme_id, name)
);
ALTER TABLE jobs ADD COLUMN held TEXT;
ALTER TABLE jobs ADD COLUMN rules_off INTEGER NOT NULL DEFAULT 0;
"""

# CLIP-assisted curation (store/curation.py): each image's CLIP embeddings, as float16
# blobs under the CLIP's name (an embedding is only ever compared with one of the same
# model), and the suggestion made from them, beside (never in) the artist's own tags. Both
# carry the sha256 of the image bytes they were computed from: a row whose image is gone
# or changed (an id given out again after a delete) is never read. No foreign key: the
# rows outlive a delete harmlessly (a restore finds them again) and ``doorways index``
# prunes them. ``id`` AUTOINCREMENT never reuses an id, so a cached matrix knows by
# (COUNT, MAX(id)) whether rows were only added. ``probes``: the hash of the probe set
# scored against (a change makes the suggestion stale); ``match``: what "best prompt match"
# sorts by (the sides' mean for a panorama with side prompts, else the whole).
_CURATION = """
CREATE TABLE image_embeddings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    dim INTEGER NOT NULL CHECK (dim > 0),
    whole BLOB NOT NULL,
    left_half BLOB,
    right_half BLOB,
    created REAL NOT NULL,
    UNIQUE (image_id, model)
);
CREATE INDEX idx_image_embeddings_model ON image_embeddings(model, id);
CREATE TABLE image_suggestions (
    image_id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    model TEXT NOT NULL,
    probes TEXT NOT NULL,
    doors INTEGER CHECK (doors IS NULL OR doors BETWEEN 0 AND 9),
    doors_confidence REAL,
    figures INTEGER CHECK (figures IS NULL OR figures IN (0, 1)),
    figures_confidence REAL,
    match_whole REAL,
    match_left REAL,
    match_right REAL,
    match REAL,
    scores TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE INDEX idx_image_suggestions_doors ON image_suggestions(doors, image_id);
CREATE INDEX idx_image_suggestions_figures ON image_suggestions(figures, image_id);
CREATE INDEX idx_image_suggestions_match ON image_suggestions(match, image_id);
"""

MIGRATIONS: list[Migration] = [
    (1, "initial schema", _SCHEMA_1),
    (2, "image view indexes keyed by kind", _IMAGE_INDEXES_BY_KIND),
    (3, "a lease number for each claim of a job", _JOB_LEASE),
    (4, "library metadata", _META),
    (5, "the machine a worker's pid belongs to", _WORKER_MACHINE),
    (6, "the process each undo step came from", _UNDO_ORIGIN),
    (7, "views for sqlite-utils and Datasette", _VIEWS),
    (8, "the theme group of each variant", _VARIANT_GROUP),
    (9, "the loss of a running job", _JOB_LOSS),
    (11, "stop rules and held jobs", _STOP_RULES),
    (12, "CLIP embeddings and curation suggestions", _CURATION),
]


def _ensure_table(db: Database) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied REAL NOT NULL)"
    )


def table_names(db: Database) -> set[str]:
    """The library's tables (sqlite-utils reads the schema; retried while busy)."""
    with db.locked() as sdb:
        return set(retry_busy(sdb.table_names))


def applied_versions(db: Database) -> list[int]:
    """The migrations this library has had (none for a database without the table);
    reads only, so a read-only library can answer."""
    if "schema_migrations" not in table_names(db):
        return []
    return [r[0] for r in db.rows("SELECT version FROM schema_migrations ORDER BY version")]


def known_version(migrations: list[Migration] | None = None) -> int:
    """The newest schema this Doorways knows."""
    return max(m[0] for m in (MIGRATIONS if migrations is None else migrations))


def schema_version(db: Database) -> int:
    """The library's schema version (the newest migration it records, or its
    ``user_version`` if that says more)."""
    versions = applied_versions(db)
    return max([int(db.scalar("PRAGMA user_version") or 0), *versions])


def needed_doorways(db: Database) -> str | None:
    """The Doorways version that wrote the library's schema, where it says."""
    if "meta" not in table_names(db):
        return None
    return db.scalar("SELECT value FROM meta WHERE key = 'needs_doorways'")


def newer_schema_error(db: Database, migrations: list[Migration] | None = None) -> str | None:
    """Why this Doorways must not write to the library (its schema is newer), or None."""
    have, known = schema_version(db), known_version(migrations)
    if have <= known:
        return None
    needs = needed_doorways(db)
    upgrade = f"Doorways {needs} or newer" if needs else "a newer Doorways"
    return (
        f"{db.path.parent} has schema version {have}, newer than this Doorways ({__version__})"
        f" knows ({known}): it needs {upgrade} to write to it; nothing was changed"
    )


def missing_tables(db: Database, migrations: list[Migration] | None = None) -> list[str]:
    """Tables the library's applied migrations made that are not there (dropped by hand,
    a damaged file): reading or writing it would fail half-way."""
    applied = set(applied_versions(db))
    expected = {"schema_migrations"} if applied else set()
    for version, _, sql in sorted(MIGRATIONS if migrations is None else migrations):
        if version in applied:
            expected |= set(_CREATE_TABLE.findall(sql))
            expected -= set(_DROP_TABLE.findall(sql))
    return sorted(expected - table_names(db))


_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_DROP_TABLE = re.compile(r"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+)", re.I)


def migrate(
    db: Database,
    migrations: list[Migration] | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied now.

    A library whose schema is newer than ``migrations`` know is refused (a ``StoreError``)
    and left as it was."""
    migrations = MIGRATIONS if migrations is None else migrations
    done: list[int] = []
    with db.write() as conn:
        if reason := newer_schema_error(db, migrations):
            raise StoreError(reason)
        _ensure_table(db)
        have = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in sorted(migrations):
            if version in have:
                continue
            for statement in _split(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations(version, name, applied) VALUES (?, ?, ?)",
                (version, name, clock()),
            )
            done.append(version)
        if done:
            _record_version(db, max([*have, *done]))
    return done


def _record_version(db: Database, version: int) -> None:
    """The schema version in the header (readable without a table) and who wrote it."""
    db.conn.execute(f"PRAGMA user_version = {int(version)}")
    if "meta" in table_names(db):
        db.db["meta"].insert({"key": "needs_doorways", "value": __version__}, replace=True)


def _split(sql: str) -> list[str]:
    """Statements of a migration script (``executescript`` would commit our transaction)."""
    return [s.strip() for s in sql.split(";") if s.strip()]
