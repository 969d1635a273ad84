"""The private names of other libraries the app relies on, one module per library.

Nothing else in Doorways reaches into a library's private names: a new release that moves
one breaks its contract test in ``tests/unit/test_compat.py`` and is fixed here. The pins
in ``pyproject.toml`` list them all.
"""
