"""Engines side by side: an epoch of the Rust engine, the NumPy reference, scikit-learn and
PyTorch, each in its own process.

Run ``python benchmarks/epoch.py --help`` (the same as ``fastmlp bench``); the code lives in
:mod:`fastmlp.bench`, and ``benchmarks/README.md`` explains the columns and holds the results.
"""

import sys

from fastmlp.bench import main

if __name__ == "__main__":
    sys.exit(main())
