"""SQL fragments more than one query uses, each said once."""

from __future__ import annotations

# Images with their variant (prompt, theme): what every image list and filter reads from.
IMAGES_JOIN = "images i JOIN variants v ON v.id = i.variant_id"


def untriaged_where(alias: str = "i") -> str:
    """An image nobody has judged yet: no door count and not rejected. The same terms as
    the partial index ``idx_images_untriaged`` (migration 2), so SQLite can use it."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}door_count IS NULL AND {prefix}rejected = 0"
