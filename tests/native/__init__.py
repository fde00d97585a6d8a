"""The Rust/Python boundary of ``fastmlp._native`` and ``fastmlp.kernels``."""
