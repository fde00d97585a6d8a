"""Dense vs sparse first layer of the Rust engine: ``python benchmarks/input_paths.py``."""

import sys

from fastmlp.bench_input_paths import main

if __name__ == "__main__":
    sys.exit(main())
