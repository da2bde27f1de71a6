"""ANNT, the Adversarial Neural Network Toolkit: train full-precision and DoReFa-quantized
classifiers with Tensorpack and measure their adversarial robustness with ART.

>>> import annt
>>> run = annt.train("model_a", "1,1,32", epochs=1)                  # doctest: +SKIP
>>> model = annt.load_model("model_a", "1,1,32")                     # doctest: +SKIP
>>> result = annt.attack("model_a", "1,1,32", "cw_l2", samples=50)   # doctest: +SKIP

The layout follows the workflow: ``data`` -> ``models`` / ``quantization`` -> ``training`` ->
``estimator`` / ``attacks`` -> ``evaluation`` / ``metrics`` / ``diagnostics`` / ``recognisability`` ->
``experiments`` / ``study`` -> ``tables`` / ``reports`` / ``viz``;
``outputs`` names every folder and writes files; ``config`` / ``settings`` / ``tasks`` / ``api`` / ``cli``
are the edge.
"""
from . import _backend  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from .config import load as load_config
from .data import load_dataset
from .errors import (AdversarialSetError, AnntError, CheckpointError, ConfigError, DataError, OutputExistsError,
                     ResumeError, SampleError, ZooError)
from .predictor import TrainedModel, load_model
from .quantization import Precision
from .api import attack, diagnose, evaluate, experiment, run, study, train
from .settings import Settings
from .zoo import shipped_models

__version__ = "0.1.0"

__all__ = ["AdversarialSetError", "AnntError", "CheckpointError", "ConfigError", "DataError", "OutputExistsError",
           "ResumeError", "SampleError", "ZooError", "Precision", "Settings", "TrainedModel", "attack", "diagnose", "evaluate",
           "experiment", "load_config", "load_dataset", "load_model", "run", "shipped_models", "study", "train",
           "__version__"]
