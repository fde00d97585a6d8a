"""``MLP`` training: construction, fit, errors and divergence, inference, what it learns."""
