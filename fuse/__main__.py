"""`python -m fuse` is the `fuse` command."""

import sys

from fuse.cli import main

sys.exit(main())
