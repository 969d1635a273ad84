"""Sizes as a person reads them, in backup and trash summaries."""

import pytest

from doorways_tui.core.text import human_size


@pytest.mark.parametrize(
    ("n", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (5 * 1024**3, "5.0 GB"),
     (2048 * 1024**3, "2048.0 GB")],
)
def test_human_size(n, shown):
    assert human_size(n) == shown
