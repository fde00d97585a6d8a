"""The engines: kernels against the NumPy oracle, the contract, outputs, optimizers,
sparse input and the kernels' properties."""
