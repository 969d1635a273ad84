"""Helpers shared by the app_library tests of every tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def root() -> Path:
    return Path(os.environ["DOORWAYS_LIBRARY"])
