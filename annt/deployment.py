"""What ships to a device: a trained model exported to TensorFlow Lite, and the exported model as a classifier.

TensorFlow's own converter (``tf.compat.v1.lite.TFLiteConverter.from_session``) and interpreter
(``tf.lite.Interpreter``) do the work; ANNT adds the format each precision maps to, a seeded representative set,
batched inference with inputs quantized as the model declares (ART's black-box classifier around it, for the attacks
that need only outputs, is ``annt.estimator.DeployedClassifier``).
"""
import copy
import hashlib
import json
import os
import threading
import warnings
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

from ._backend import quiet_stderr, tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
import numpy as np

from .errors import DeploymentError
from .precision import Precision

#: ``float32``: the simulation's float graph as is; ``dynamic``: weights stored in int8, computed in float;
#: ``int8``: full-integer (weights and activations int8, int8 input and output), calibrated on a representative set.
FORMATS = ("float32", "dynamic", "int8")
#: The full-integer format: what a device without a float unit runs.
INTEGER_FORMAT = "int8"
# TensorFlow 2.21 warns at every interpreter's creation and deletion that tf.lite.Interpreter is deprecated (it still
# runs; ai_edge_litert would be a new dependency): silenced for good, as a deletion may come at interpreter exit.
warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated", category=UserWarning)

#: The exported model's file in an export folder.
TFLITE = "model.tflite"
#: Images of the training split the int8 converter calibrates its activation ranges on.
REPRESENTATIVE_IMAGES = 200


def default_format(precision):
    """``int8`` where the model's numbers fit 8-bit integers (FP, and DoReFa at 8 bits or fewer), else
    ``float32``: DoReFa's 12- and 16-bit levels are finer than int8's, TFLite has no 12- or 16-bit kernels."""
    fits = precision.is_full or (precision.weights <= 8 and precision.activations <= 8)
    return INTEGER_FORMAT if fits else "float32"


def integer_notes(precision, format, operators):
    """What of the model does not run in integers in ``format`` (one line each; none for a full-integer model)."""
    if format == "float32":
        why = "asked for" if default_format(precision) == "int8" else "DoReFa's levels above 8 bits are finer than int8's"
        return [f"float32: the whole model computes in float ({why})"]
    if format == "dynamic":
        return ["dynamic: weights stored in int8, every operator computes in float"]
    notes = []
    if "ROUND" in operators:
        notes.append(f"DoReFa's {precision.activations}-bit rounding has no integer kernel: it runs in float "
                     f"between DEQUANTIZE and QUANTIZE")
    if not precision.is_full and precision.activations > 8:
        notes.append(f"int8 tensors hold 256 levels: the {precision.activations}-bit activations are coarsened")
    if not precision.is_full and precision.weights > 1:
        notes.append(f"DoReFa's {precision.weights}-bit weights are stored as int8 per channel, rescaled by the "
                     f"converter (exact only where their levels fall on its grid)")
    return notes


def representative_indices(train_size, seed, count=REPRESENTATIVE_IMAGES):
    """The training images, drawn with ``seed``, the int8 converter calibrates on."""
    return np.sort(np.random.default_rng(seed).choice(train_size, size=min(count, train_size), replace=False))


def export_tflite(trained, format, representative=None):
    """The ``.tflite`` bytes of ``trained`` (a :class:`~annt.predictor.TrainedModel`) in ``format``;
    ``representative`` (float32 images in [0, 1]) is needed for ``int8``."""
    if format not in FORMATS:
        raise DeploymentError(f"unknown TFLite format {format!r}; allowed: {', '.join(FORMATS)}")
    if format == "int8" and (representative is None or not len(representative)):
        raise DeploymentError("an int8 export needs representative images to calibrate on")
    if format == "int8" and trained.precision.activations == 8:
        trained = _with_integer_activations(trained)
    with trained.graph.as_default():
        converter = tf.lite.TFLiteConverter.from_session(trained.session, [trained.tensor("input")],
                                                         [trained.tensor("logits")])
        if format != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if format == "int8":
            images = np.asarray(representative, dtype=np.float32)
            converter.representative_dataset = lambda: ([image[None]] for image in images)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        with quiet_stderr():
            return converter.convert()


def _with_integer_activations(trained):
    """``trained`` in a graph of its own whose 8-bit activations are bounded only: the int8 tensors then hold
    DoReFa's levels (the converter calibrates them to [0, 1], scale 1/255) and no rounding is left in float."""
    from .predictor import TrainedModel
    model = copy.copy(trained.model)
    model.quantizer = replace(model.quantizer, integer_activations=True)
    return TrainedModel(model, trained.checkpoint, trained.card)


class DeployedModel:
    """A ``.tflite`` model run by TensorFlow Lite's interpreter, with :class:`~annt.predictor.TrainedModel`'s
    ``logits`` / ``predict`` / ``accuracy``: float images in [0, 1] go in, float logits come out (an int8 model's
    input is quantized with its declared scale and zero point, its output dequantized)."""

    def __init__(self, model, batch_size=256, card=None, num_threads=None):
        self.path = None if isinstance(model, bytes) else Path(model)
        self.card = card
        content = model if isinstance(model, bytes) else _read(self.path)
        failure = None
        with warnings.catch_warnings(), quiet_stderr():
            warnings.simplefilter("ignore", UserWarning)  # the deprecation warning (see above), here too under pytest
            try:
                # The interpreter's default is one thread: every core doubles its throughput on this 2-core machine.
                self.interpreter = tf.lite.Interpreter(model_content=content, num_threads=num_threads or os.cpu_count())
                self.interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as error:
                # Caught in here, so that the half-made interpreter is freed while TensorFlow's C++ output is caught.
                failure = str(error).splitlines()[0]
        if failure is not None:
            raise DeploymentError(f"{self.path or 'the model'} is not a TFLite model that loads: {failure}")
        self.content, self.batch_size, self._batch = content, batch_size, None
        self._lock = threading.Lock()  # one interpreter, and attacks (Boundary) call it from several threads
        (self._input,), (self._output,) = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        self.input_shape = tuple(int(n) for n in self._input["shape"][1:])
        self.num_classes = int(self._output["shape"][-1])
        self.input_dtype = np.dtype(self._input["dtype"])

    # What the export's card says of the model it was made from (None for bare bytes).
    name = property(lambda self: (self.card or {}).get("model"))
    dataset = property(lambda self: (self.card or {}).get("dataset"))
    precision = property(lambda self: None if self.card is None else Precision.parse(self.card["precision"]))
    checkpoint = property(lambda self: self.path)
    format = property(lambda self: (self.card or {}).get("format"))

    def logits(self, images, batch_size=None):
        """Logits (dequantized) for float32 images in [0, 1] (NHWC), ``batch_size`` (else the model's) images per
        ``invoke``."""
        images, batch_size = np.asarray(images, dtype=np.float32), batch_size or self.batch_size
        if images.shape[1:] != self.input_shape:
            raise DeploymentError(f"{self.path or 'the model'} takes {'x'.join(map(str, self.input_shape))} images; "
                                  f"these are {'x'.join(map(str, images.shape[1:]))}")
        batches = [self._invoke(images[start:start + batch_size]) for start in range(0, len(images), batch_size)]
        return np.concatenate(batches) if batches else np.zeros((0, self.num_classes), np.float32)

    def predict(self, images, batch_size=None):
        """Predicted class of each image."""
        return self.logits(images, batch_size).argmax(axis=1)

    def accuracy(self, images, labels, batch_size=None):
        """Fraction of ``images`` classified as ``labels``."""
        return float(np.mean(self.predict(images, batch_size) == np.asarray(labels)))

    def __repr__(self):
        return f"DeployedModel({self.name!r}, precision={str(self.precision)!r}, format={self.format!r}, " \
               f"path={str(self.path)!r})"

    def tensor_types(self):
        """Each tensor's name, type and (scale, zero point), in the interpreter's order: what runs in integers."""
        return [{"name": detail["name"], "dtype": np.dtype(detail["dtype"]).name,
                 "quantization": [float(detail["quantization"][0]), int(detail["quantization"][1])]}
                for detail in self.interpreter.get_tensor_details()]

    def operators(self):
        """The interpreter's operators by name (``CONV_2D``, ``DEQUANTIZE``, ...), in order."""
        return [op["op_name"] for op in self.interpreter._get_ops_details()]

    def graph_context(self):
        """As :meth:`~annt.predictor.TrainedModel.graph_context`: nothing here, the interpreter runs no graph of ours."""
        return nullcontext()

    def _invoke(self, images):
        with self._lock:
            return self._invoke_unlocked(images)

    def _invoke_unlocked(self, images):
        if self._batch != len(images):
            self.interpreter.resize_tensor_input(self._input["index"], [len(images), *self.input_shape])
            self.interpreter.allocate_tensors()
            self._batch = len(images)
        scale, zero_point = self._input["quantization"]
        if self.input_dtype == np.float32:
            fed = images
        else:
            limits = np.iinfo(self.input_dtype)
            fed = np.clip(np.round(images / scale + zero_point), limits.min, limits.max).astype(self.input_dtype)
        self.interpreter.set_tensor(self._input["index"], fed)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._output["index"])
        scale, zero_point = self._output["quantization"]
        return out.astype(np.float32) if scale == 0 else (out.astype(np.float32) - zero_point) * scale


def holds_export(path):
    """Whether ``path`` is an exported model: a ``.tflite`` file, or a folder holding ``model.tflite`` or the card of
    one (whose file may be missing: loading then says so)."""
    path = Path(path)
    if not path.is_dir():
        return path.suffix == ".tflite"
    card = path / "model_card.json"
    return (path / TFLITE).is_file() or (card.is_file() and "tflite" in json.loads(card.read_text()))


def load_deployed(path, batch_size=256):
    """The exported model at ``path`` (an export folder, or its ``model.tflite``) with its card, if any."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    card_path = folder / "model_card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else None
    file = folder / TFLITE if path.is_dir() else path
    recorded = (card or {}).get("tflite_sha256")
    if recorded and file.name == card.get("tflite") and file.is_file() and \
            hashlib.sha256(file.read_bytes()).hexdigest() != recorded:
        raise DeploymentError(f"{file} is not the file its model card describes (its SHA-256 differs from the card's "
                              "tflite_sha256): exported again, or copied in from another export?")
    return DeployedModel(file, batch_size, card)


def _read(path):
    if not path.is_file():
        raise DeploymentError(f"no TFLite model at {path}")
    return path.read_bytes()
