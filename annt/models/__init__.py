"""The model zoo: every architecture ANNT can train, by name."""
from .base import ClassifierModel
from .cifar import CifarConvNet, ResNet20, ResNet32, ResNet44
from .mnist import LeNet5, ModelA, ModelB, ModelC

MODELS = {cls.name: cls for cls in (ModelA, ModelB, ModelC, LeNet5,
                                    ResNet20, ResNet32, ResNet44, CifarConvNet)}


def build_model(name, precision="FP", activation_bound="clip"):
    """A fresh :class:`ClassifierModel` of architecture ``name`` at ``precision`` (activations feeding
    quantized layers bounded by ``activation_bound``, see :data:`annt.quantization.ACTIVATION_BOUNDS`)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    return MODELS[name](precision, activation_bound)


__all__ = ["ClassifierModel", "MODELS", "build_model"]
