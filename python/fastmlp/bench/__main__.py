"""``python -m fastmlp.bench``: the same as ``fastmlp bench``."""

import sys

from fastmlp.bench.command import main

sys.exit(main())
