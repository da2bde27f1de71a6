"""ANNT, the Adversarial Neural Network Toolkit: train full-precision and DoReFa-quantized
classifiers with Tensorpack and measure their adversarial robustness with ART.

>>> import annt
>>> run = annt.train("model_a", "1,1,32", epochs=1)     # doctest: +SKIP
>>> model = annt.load_model("model_a", "1,1,32")        # doctest: +SKIP
"""
from . import _backend  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from .config import load as load_config
from .data import load_dataset
from .errors import AnntError, ConfigError, DataError
from .predictor import TrainedModel, load_model
from .quantization import Precision
from .tasks import attack, evaluate, run
from .training import train
from .zoo import shipped_models

__version__ = "0.1.0"

__all__ = ["AnntError", "ConfigError", "DataError", "Precision", "TrainedModel", "attack", "evaluate",
           "load_config", "load_dataset", "load_model", "run", "shipped_models", "train", "__version__"]
