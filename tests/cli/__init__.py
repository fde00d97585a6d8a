"""The command line: train, evaluate, predict, images, plots."""
