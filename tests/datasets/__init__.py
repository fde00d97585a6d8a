"""``fastmlp.datasets``: the readers, loading and lookup, downloads, bounded loaders."""
