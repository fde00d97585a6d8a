"""The training API, ``fastmlp.MLP``: training, saving and loading, messages, threads."""
