"""The architectures ANNT can build, by name, and the data set each one classifies.

This catalog is free of TensorFlow, so that a config is checked (``python -m annt``) without importing it;
:meth:`Architecture.model_class` imports the model itself (``mnist.py``, ``cifar.py``) when it is built.
"""
import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    """One buildable model: its name, its data set, and where its :class:`ClassifierModel` lives."""

    name: str
    dataset: str
    module: str  # e.g. "annt.models.mnist"
    class_name: str

    def model_class(self):
        """The :class:`~annt.models.base.ClassifierModel` subclass (imports TensorFlow)."""
        return getattr(importlib.import_module(self.module), self.class_name)


MODELS = {arch.name: arch for arch in (
    Architecture("model_a", "mnist", "annt.models.mnist", "ModelA"),
    Architecture("model_b", "mnist", "annt.models.mnist", "ModelB"),
    Architecture("model_c", "mnist", "annt.models.mnist", "ModelC"),
    Architecture("lenet5", "mnist", "annt.models.mnist", "LeNet5"),
    Architecture("resnet20", "cifar10", "annt.models.cifar", "ResNet20"),
    Architecture("resnet32", "cifar10", "annt.models.cifar", "ResNet32"),
    Architecture("resnet44", "cifar10", "annt.models.cifar", "ResNet44"),
    Architecture("cifar_convnet", "cifar10", "annt.models.cifar", "CifarConvNet"),
)}


#: The paper's architecture for each data set.
PAPER_MODELS = {"mnist": "model_a", "cifar10": "resnet20"}


def build_model(name, precision="FP", activation_bound="clip"):
    """A fresh :class:`ClassifierModel` of architecture ``name`` at ``precision`` (activations feeding
    quantized layers bounded by ``activation_bound``, see :data:`annt.precision.ACTIVATION_BOUNDS`)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    return MODELS[name].model_class()(precision, activation_bound)


__all__ = ["Architecture", "MODELS", "build_model"]
