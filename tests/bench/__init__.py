"""``fastmlp bench`` and the scripts in ``benchmarks/``."""
