"""Inference on analog hardware: statistical device noise, conductance converters, drift
compensation (aihwkit 1.1.0's ``aihwkit.inference``), on NumPy arrays.

The parameters are the config dataclasses of :mod:`rpu.config` (the noise models
``PCMLikeNoiseModel``, ``CustomDriftPCMLikeNoiseModel``, ``StateIndependentNoiseModel``,
``ReRamWan2022NoiseModel``, ``ReRamCMONoiseModel``, ``HermesNoiseModel``; the Single-, N-, Dual-,
CustomPair and SingleDevice conductance converters; the Global, GlobalWithExactReference and
PerColumn drift compensations); the functions here apply them,
named after aihwkit's methods with the config as first argument. See
:mod:`rpu.inference.noise_models`, :mod:`rpu.inference.converters` and
:mod:`rpu.inference.compensation` for units, shapes and the random-number scheme.
"""
from . import compensation, converters, noise_models
from .converters import ZERO_CLIP, convert_back_to_weights, convert_to_conductances
from .noise_models import *  # noqa: F401,F403  (its __all__: aihwkit's noise-model methods)

__all__ = ["compensation", "ZERO_CLIP", "convert_to_conductances", "convert_back_to_weights",
           *noise_models.__all__]
