"""fastmlp's tests, grouped by subject (a package, so that every module is imported by its
full name, ``tests.engines.test_kernels``, and two folders may hold files of the same name)."""
