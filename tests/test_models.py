import numpy as np
import pytest
from tensorpack.tfutils.tower import TowerContext

from annt._backend import tf
from annt.models import MODELS, build_model

NAMED = ("input", "label", "logits", "output", "cross_entropy_loss", "accuracy")


def build(name, precision, training=True):
    model = build_model(name, precision)
    graph = tf.Graph()
    with graph.as_default():
        inputs = [tf.placeholder(s.dtype, s.shape, s.name) for s in model.get_input_signature()]
        with TowerContext("", is_training=training):
            model.build_graph(*inputs)
    return model, graph


def weight_consumers(graph):
    """layer name -> whether the Conv2D/MatMul of that layer reads its weight variable directly."""
    direct = {}
    for op in graph.get_operations():
        if op.type in ("Conv2D", "MatMul") and "gradients" not in op.name:
            layer = op.name.rsplit("/", 1)[0]
            direct[layer] = op.inputs[1].op.type == "ReadVariableOp"
    return direct


@pytest.mark.parametrize("name", sorted(MODELS))
def test_first_and_last_layers_stay_full_precision_and_the_rest_are_quantized(name):
    model, graph = build(name, "2,2,32")
    direct = weight_consumers(graph)
    first, last = model.full_precision_layers
    assert direct.pop(first) and direct.pop(last)
    assert direct and not any(direct.values()), direct


@pytest.mark.parametrize("name", sorted(MODELS))
def test_full_precision_build_has_named_tensors_and_no_quantizer(name):
    model, graph = build(name, "FP")
    for tensor in NAMED:
        graph.get_tensor_by_name(f"{tensor}:0")
    assert all(weight_consumers(graph).values())
    assert graph.get_tensor_by_name("logits:0").shape.as_list() == [None, 10]
    assert graph.get_tensor_by_name("input:0").shape.as_list() == [None, *model.image_shape]


def test_quantized_activations_feed_quantized_layers():
    _, graph = build("model_a", "2,2,32", training=False)
    with tf.Session(graph=graph) as session:
        session.run(tf.global_variables_initializer())
        image = np.random.RandomState(0).rand(4, 28, 28, 1).astype(np.float32)
        conv2_input = graph.get_operation_by_name("conv2/Conv2D").inputs[0]
        values = session.run(conv2_input, {"input:0": image})
    levels = np.unique(values)
    assert len(levels) <= 4 and levels.min() >= 0 and levels.max() <= 1
    np.testing.assert_allclose(levels * 3, np.round(levels * 3), atol=1e-5)


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="allowed: model_a"):
        build_model("vgg16")
