"""ANNT, the Adversarial Neural Network Toolkit: train full-precision and DoReFa-quantized
classifiers with Tensorpack and measure their adversarial robustness with ART.

>>> import annt
>>> run = annt.train("model_a", "1,1,32", epochs=1)                  # doctest: +SKIP
>>> model = annt.load_model("model_a", "1,1,32")                     # doctest: +SKIP
>>> result = annt.attack("model_a", "1,1,32", "cw_l2", samples=50)   # doctest: +SKIP

The layout follows the workflow: ``data`` -> ``models`` / ``precision`` / ``quantization`` -> ``training`` ->
``estimator`` / ``attack_params`` / ``attacks`` -> ``evaluation`` / ``metrics`` / ``diagnostics`` /
``recognisability`` / ``real_robustness`` -> ``experiments`` / ``studies`` -> ``tables`` / ``reports`` / ``viz``;
``outputs`` names every folder and writes files; ``config`` / ``settings`` / ``tasks`` / ``api`` / ``cli``
are the edge.

The names below are imported when first used, so that ``import annt`` (and ``python -m annt --help``) does not
wait for TensorFlow; the first that needs it (e.g. ``annt.load_model``) imports it.
"""
import importlib
import importlib.util
import os
import warnings

# Tensorpack's layers need the legacy Keras (tf_keras); TensorFlow reads this only at its first import, which
# may come from the user's own code after ``import annt``. ART announces optional PyTorch features at import, and
# its tqdm.auto, in Jupyter without ipywidgets, that it falls back to text bars (ANNT's bars are text bars).
os.environ["TF_USE_LEGACY_KERAS"] = "1"
warnings.filterwarnings("ignore", message="PyTorch not found")
warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_PUBLIC = {
    "load_config": "config", "load_dataset": "data", "TrainedModel": "predictor", "load_model": "predictor",
    "Precision": "precision", "Settings": "settings", "shipped_models": "zoo",
    **{name: "api" for name in ("attack", "diagnose", "evaluate", "experiment", "robustness", "run", "study",
                                            "train")},
    **{name: "errors" for name in ("AdversarialSetError", "AnntError", "CheckpointError", "ConfigError", "DataError",
                                   "OutputExistsError", "ResumeError", "SampleError", "ZooError")},
}
_RENAMED = {"load_config": "load"}


def __getattr__(name):
    if name not in _PUBLIC:
        if importlib.util.find_spec(f"{__name__}.{name}") is None:  # a submodule, e.g. annt.viz, is imported
            raise AttributeError(f"module 'annt' has no attribute {name!r}")
        return importlib.import_module(f".{name}", __name__)
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_PUBLIC])


__all__ = sorted([*_PUBLIC, "__version__"])
