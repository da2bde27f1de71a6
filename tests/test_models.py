import numpy as np
import pytest
from tensorpack.tfutils.tower import TowerContext

from annt._backend import tf
from annt.models import MODELS, build_model

NAMED = ("input", "label", "logits", "output", "cross_entropy_loss", "accuracy")


def build(name, precision, training=True, layout=None):
    model = build_model(name, precision, layout=layout)
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


#: Every architecture; the deeper ResNets (several seconds to build) only in the whole suite.
BUILDS = [pytest.param(name, marks=pytest.mark.slow) if name in ("resnet32", "resnet44") else name
          for name in sorted(MODELS)]


@pytest.mark.parametrize("name", BUILDS)
def test_first_and_last_layers_stay_full_precision_and_the_rest_are_quantized(name):
    model, graph = build(name, "2,2,32")
    direct = weight_consumers(graph)
    first, last = model.full_precision_layers
    assert direct.pop(first) and direct.pop(last)
    assert direct and not any(direct.values()), direct


@pytest.mark.parametrize("name", BUILDS)
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


def _levels(values):
    return np.unique(np.round(values, 5))


@pytest.mark.parametrize("name", ["resnet20", pytest.param("resnet32", marks=pytest.mark.slow)])
def test_the_original_resnet_layout_quantizes_each_branch_and_feeds_later_blocks_the_unquantized_sum(name):
    model, graph = build(name, "2,2,32", training=False, layout="original")
    assert model.layout == "original"
    direct = weight_consumers(graph)
    assert direct.pop("conv0") and direct.pop("linear") and not any(direct.values())
    image = np.random.RandomState(0).rand(4, 32, 32, 3).astype(np.float32)
    with tf.Session(graph=graph) as session:
        session.run(tf.global_variables_initializer())
        first, second, later = session.run(
            [graph.get_operation_by_name(f"group0/block0/{conv}/Conv2D").inputs[0] for conv in ("conv1", "conv2")]
            + [graph.get_operation_by_name("group0/block1/conv1/Conv2D").inputs[0]], {"input:0": image})
        output = session.run(graph.get_tensor_by_name("logits:0"), {"input:0": image})
    # The very first block reads conv0's quantized output, its second conv the quantized branch: 2 bits, 4 levels.
    for values in (first, second):
        levels = _levels(values)
        assert len(levels) <= 4 and levels.min() >= 0 and levels.max() <= 1
        np.testing.assert_allclose(levels * 3, np.round(levels * 3), atol=1e-4)
    # A later block's first conv reads BN-ReLU of the sum: not quantized, not clipped to 1.
    assert len(_levels(later)) > 4 and later.min() >= 0
    assert output.shape == (4, 10) and np.isfinite(output).all()
    # No normalisation of the input: conv0 reads the image itself.
    assert graph.get_operation_by_name("conv0/Conv2D").inputs[0].op.name == "input"


def test_a_layout_is_only_for_the_resnets():
    assert build_model("resnet20", "FP").layout == "preactivation"
    with pytest.raises(ValueError, match="model_a has one layout"):
        build_model("model_a", "FP", layout="original")


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="allowed: model_a"):
        build_model("vgg16")
