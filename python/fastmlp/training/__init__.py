"""The training loop shared by everything that trains a network with fastmlp.

* :mod:`~fastmlp.training.settings`: one fit's settings, checked (:func:`fit_settings`);
* :mod:`~fastmlp.training.state`: what carries over between fits and into model files;
* :mod:`~fastmlp.training.loop`: :func:`train`, the epochs with schedule and early stopping;
* :mod:`~fastmlp.training.epoch`: one epoch through an engine (progress, divergence, Ctrl-C);
* :mod:`~fastmlp.training.watch`, :mod:`~fastmlp.training.holdout`: the plateau watch and
  the stratified validation split.
"""

from fastmlp.training.holdout import stratified_holdout
from fastmlp.training.loop import train
from fastmlp.training.settings import MONITORS, FitSettings, fit_settings
from fastmlp.training.state import TrainingState, generator_from_json, generator_to_json
from fastmlp.training.watch import Watch

__all__ = [
    "MONITORS",
    "FitSettings",
    "TrainingState",
    "Watch",
    "fit_settings",
    "generator_from_json",
    "generator_to_json",
    "stratified_holdout",
    "train",
]
