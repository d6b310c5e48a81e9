"""Parameter and MAC counts of a built model, read from its traced TensorFlow graph.

MACs are the multiply-accumulates of convolution and dense (matmul) ops for one clip, the
convention of torchvision's `_ops`, VMZ and fvcore; pooling, normalisation and activations are
not counted. Reading the graph (rather than a table of layers) counts what actually runs,
including the 2D convolutions that factorized 3D kernels become.
"""
import math

import numpy as np
import tensorflow as tf

from keras_video import zoo


def count_params(model):
    """`{"params": all weights, "trainable_params": trainable weights}` as ints."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return {"params": int(model.count_params()), "trainable_params": trainable}


def _op_macs(op):
    if not op.outputs:
        return 0
    out = op.outputs[0].shape
    if op.type in ("Conv2D", "Conv3D"):  # filter (..., in / groups, out)
        kernel = op.inputs[1].shape
        return out.num_elements() * math.prod(kernel[:-1])
    if op.type == "DepthwiseConv2dNative":  # filter (kh, kw, in, multiplier)
        kernel = op.inputs[1].shape
        return out.num_elements() * kernel[0] * kernel[1]
    if op.type in ("MatMul", "BatchMatMulV2", "BatchMatMulV3"):
        a = op.inputs[0].shape
        transposed = op.get_attr("transpose_a" if op.type == "MatMul" else "adj_x")
        return out.num_elements() * (a[-2] if transposed else a[-1])
    return 0


def _graph_macs(graph):
    total = 0
    for op in graph.get_operations():
        if op.type in ("PartitionedCall", "StatefulPartitionedCall"):
            total += _graph_macs(graph._get_function(op.get_attr("f").name).graph)
        else:
            total += _op_macs(op)
    return total


def count_macs(model, frames=16, size=224, channels=None):
    """MACs of one `frames x size x size` clip through `model` (inference mode), as an int."""
    channels = channels or model.inputs[0].shape[-1]
    spec = tf.TensorSpec((1, frames, size, size, channels), tf.float32)
    graph = tf.function(lambda x: model(x, training=False), autograph=False)
    graph = graph.get_concrete_function(spec).graph
    macs = _graph_macs(graph)
    if macs is None or macs < 0:
        raise ValueError("could not infer static shapes to count MACs")
    return int(macs)


def profile(model, frames=16, size=224):
    """Params, trainable params and GMACs of `model` for one clip, as a JSON-ready dict."""
    return {**count_params(model), "gmacs": count_macs(model, frames, size) / 1e9,
            "frames": frames, "size": size}


def model_info(model_name, frames=16, size=224):
    """Params, trainable params and GMACs of the registered `model_name` for one
    `frames x size x size` clip, built with random weights."""
    from keras_video import zoo
    model = zoo.get(model_name, input_shape=(frames, size, size, 3))
    return {"model": zoo.get_builder(model_name).registry_name, **profile(model, frames, size)}
