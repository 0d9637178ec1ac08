"""``python -m mockserver``."""

from __future__ import annotations

import sys

from mockserver.cli import main

if __name__ == "__main__":  # not again in a process spawned from this one (a PDF helper)
    sys.exit(main())
