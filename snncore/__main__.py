"""``python -m snncore``: the same as the ``snncore`` command."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
