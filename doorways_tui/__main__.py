"""``python -m doorways_tui``: the ``doorways`` command, for when no script is installed."""

import sys

from doorways_tui.cli import main

if __name__ == "__main__":
    sys.exit(main())
