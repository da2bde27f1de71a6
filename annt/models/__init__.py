"""The architectures ANNT can build, by name, and the data set each one classifies.

This catalog is free of TensorFlow, so that a config is checked (``python -m annt``) without importing it;
:meth:`Architecture.model_class` imports the model itself (``mnist.py``, ``cifar.py``) when it is built.
"""
import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import ModelDefinitionError


@dataclass(frozen=True)
class Architecture:
    """One buildable model: its name, its data set (None: whichever it is trained on), and where its
    :class:`ClassifierModel` lives: a module of ANNT's, or a user's ``source`` (``file.py:ClassName`` or an entry point
    of the ``annt.models`` group) with the SHA-256 of its file."""

    name: str
    dataset: str | None
    module: str  # e.g. "annt.models.mnist"; for a source, the file or the entry point's module
    class_name: str
    source: str | None = None
    source_sha256: str | None = None
    layouts: tuple = ()  # the layouts it can be built in (:data:`LAYOUTS`), the first its default; () = one

    def model_class(self):
        """The :class:`~annt.models.base.ClassifierModel` subclass (imports TensorFlow)."""
        if self.source is not None and self.module.endswith(".py"):
            return _class_from_file(self.module, self.class_name)
        return getattr(importlib.import_module(self.module), self.class_name)


#: The ResNets' layouts: ``preactivation`` (tensorpack's pre-activation example, every quantized convolution's input
#: clipped and quantized; the zoo's) and ``original`` (the original ANNT tool's ``cifar10_resnet_q.py``).
LAYOUTS = ("preactivation", "original")

MODELS = {arch.name: arch for arch in (
    Architecture("model_a", "mnist", "annt.models.mnist", "ModelA"),
    Architecture("model_b", "mnist", "annt.models.mnist", "ModelB"),
    Architecture("model_c", "mnist", "annt.models.mnist", "ModelC"),
    Architecture("lenet5", "mnist", "annt.models.mnist", "LeNet5"),
    Architecture("resnet20", "cifar10", "annt.models.cifar", "ResNet20", layouts=LAYOUTS),
    Architecture("resnet32", "cifar10", "annt.models.cifar", "ResNet32", layouts=LAYOUTS),
    Architecture("resnet44", "cifar10", "annt.models.cifar", "ResNet44", layouts=LAYOUTS),
    Architecture("cifar_convnet", "cifar10", "annt.models.cifar", "CifarConvNet"),
)}


#: The paper's architecture for each data set.
PAPER_MODELS = {"mnist": "model_a", "cifar10": "resnet20"}

#: The entry-point group an installed package registers its models in (``name = "package.module:Class"``).
ENTRY_POINTS = "annt.models"


def from_source(source):
    """The :class:`Architecture` of a user's model: ``source`` is ``path/to/file.py:ClassName`` or the name of an
    ``annt.models`` entry point. Loads the class (importing TensorFlow) and checks it is a ClassifierModel."""
    from .base import ClassifierModel
    file, sep, class_name = source.rpartition(":")
    if sep and file.endswith(".py"):
        path = Path(file).expanduser()
        if not path.is_file():
            raise ModelDefinitionError(f"no such file {file!r}")
        module, digest = str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest()
        cls = _class_from_file(module, class_name)
    else:
        found = {entry.name: entry for entry in metadata.entry_points(group=ENTRY_POINTS)}
        if source not in found:
            raise ModelDefinitionError(f"{source!r} is neither file.py:ClassName nor an installed {ENTRY_POINTS} entry "
                                   f"point (installed: {', '.join(sorted(found)) or 'none'})")
        module, _, class_name = found[source].value.partition(":")
        cls, digest = found[source].load(), None
    if not (isinstance(cls, type) and issubclass(cls, ClassifierModel)):
        raise ModelDefinitionError(f"{class_name} in {source.rpartition(':')[0] or source} is not a ClassifierModel "
                               "subclass (annt.models.base.ClassifierModel)")
    name = cls.name or class_name
    if name in MODELS:
        raise ModelDefinitionError(f"{class_name} is named {name!r}, which is one of ANNT's own models; give it another "
                               "name")
    declared = cls.dataset if isinstance(cls.dataset, str) else None  # else the base class' property: the data's
    return Architecture(name, declared, module, class_name, source, digest)


def _class_from_file(path, class_name):
    """Class ``class_name`` of the Python file at ``path``, the file imported once per content."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    module_name = f"annt_user_model_{digest[:16]}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:  # the user's file: whatever it raises is the user's to see, in one line
            raise ModelDefinitionError(f"{path} cannot be imported ({type(error).__name__}: {error})") from None
        sys.modules[module_name] = module
    cls = getattr(sys.modules[module_name], class_name, None)
    if cls is None:
        raise ModelDefinitionError(f"{path} has no class {class_name!r}")
    return cls


def architecture(name, source=None):
    """The :class:`Architecture` named ``name`` (ANNT's own) or loaded from ``source``."""
    if source is not None:
        return from_source(source)
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    return MODELS[name]


def build_model(name, precision="FP", activation_bound="clip", source=None, data=None, layout=None):
    """A fresh :class:`ClassifierModel` of architecture ``name`` (or the one ``source`` defines) at ``precision``
    (activations feeding quantized layers bounded by ``activation_bound``, see
    :data:`annt.precision.ACTIVATION_BOUNDS`). ``data``: the :class:`~annt.data.DataShape` it classifies, for a model
    that leaves its image shape or data set to the data; ``layout``: one of :data:`LAYOUTS` for a ResNet (None: its
    default)."""
    return architecture(name, source).model_class()(precision, activation_bound, data, layout)


__all__ = ["Architecture", "LAYOUTS", "MODELS", "architecture", "build_model", "from_source"]
