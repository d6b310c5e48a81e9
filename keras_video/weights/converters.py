"""Upstream checkpoint files -> keras-video models: one function per source format, and
`convert(path, model_name)` that picks one (the `keras-video convert` command).
"""
import os
import re

import numpy as np

from keras_video.layers import InceptionBlock3D, SelfGating, SepConv3D, Unit3D
from keras_video.weights import deepmind_i3d, pytorch_models, torch_files

PYTORCH_SUFFIXES = (".pth", ".pt", ".pyth", ".pkl", ".bin")


def _checkpoint_prefix(path):
    """A TF checkpoint given as its prefix, its `.index` or `.data-*` file or the folder
    holding one."""
    path = os.fspath(path)
    if os.path.isdir(path):
        indexes = [f for f in os.listdir(path) if f.endswith(".index")]
        if len(indexes) != 1:
            raise ValueError(f"{path} must hold exactly one TF checkpoint (*.index), found "
                             f"{indexes}")
        path = os.path.join(path, indexes[0])
    return re.sub(r"\.(index|data-\d+-of-\d+)$", "", path)


def deepmind_i3d_checkpoint(model, path):
    return deepmind_i3d.load_checkpoint(model, _checkpoint_prefix(path))


def torch_state_dict(model, path):
    return pytorch_models.load_state_dict(model, torch_files.read_state_dict(path))


def _feeds_gate(layers):
    """The BatchNorm layers whose (ReLU'd) output a SelfGating multiplies."""
    found = []
    for before, after in zip(layers, layers[1:]):
        if isinstance(after, SelfGating):
            unit = before.temporal if isinstance(before, SepConv3D) else before
            if not isinstance(unit, Unit3D) or unit.bn is None or not unit.bn.scale:
                raise ValueError(f"{after.name} follows {before.name}, which does not end in a "
                                 "BatchNorm with scale")
            found.append(unit.bn)
    return found


def gate_layers(model):
    """S3D-G's SelfGating layers: after Conv3d_2c_3x3 and at the end of Inception branches."""
    return [layer for layer in model.layers if isinstance(layer, SelfGating)] + [
        sub for layer in model.layers if isinstance(layer, InceptionBlock3D)
        for branch in layer.branches for sub in branch if isinstance(sub, SelfGating)]


def identity_gates(model):
    """Sets S3D-G's gates so that the network computes exactly the function of the same network
    without gates (S3D), whose weights the caller has loaded.

    Each gate starts at `sigmoid(0) = 0.5` (kernel and bias 0), where it learns fastest, and the
    BatchNorm that feeds it has its gamma and beta doubled: `0.5 * relu(2 * y) = relu(y)` holds
    bit for bit, since scaling by powers of two is exact in floating point.
    """
    gates = gate_layers(model)
    bns = _feeds_gate(list(model.layers))
    for layer in model.layers:
        if isinstance(layer, InceptionBlock3D):
            for branch in layer.branches:
                bns += _feeds_gate(branch)
    if not gates:
        raise ValueError(f"{model.name} has no gates")
    for gate in gates:
        if not gate.use_bias:
            raise ValueError(f"{gate.name} has no bias; build with gating_use_bias=True")
        for variable in gate.weights:
            variable.assign(np.zeros(variable.shape, variable.dtype))
    for bn in bns:
        bn.gamma.assign(bn.gamma * 2.0)
        bn.beta.assign(bn.beta * 2.0)
    return model


def s3dg_from_s3d_state_dict(model, path):
    """torchvision's S3D weights into an S3D-G (see `identity_gates`)."""
    state = torch_files.read_state_dict(path)
    return identity_gates(pytorch_models.load_state_dict(model, state, skip_gates=True))


CONVERTERS = {
    "deepmind_i3d": deepmind_i3d_checkpoint,
    "torch_state_dict": torch_state_dict,
    "s3dg_from_s3d": s3dg_from_s3d_state_dict,
}


def converter_for(model_name, path):
    """The converter name for a checkpoint file and the model it belongs to."""
    path = os.fspath(path)
    if path.endswith(PYTORCH_SUFFIXES):
        return "s3dg_from_s3d" if model_name == "s3dg" else "torch_state_dict"
    if os.path.isdir(path) or path.endswith(".index") or os.path.exists(path + ".index"):
        if model_name == "i3d":
            return "deepmind_i3d"
        raise ValueError(f"TF checkpoints convert to i3d only (DeepMind kinetics-i3d), not to "
                         f"{model_name!r}")
    raise ValueError(f"{path}: unknown checkpoint format; expected a PyTorch file "
                     f"({', '.join(PYTORCH_SUFFIXES)}) or a TF checkpoint (prefix, .index file "
                     "or folder)")


def convert(path, model_name, **model_kwargs):
    """Builds `model_name` (with `model_kwargs`) and fills it from the checkpoint at `path`."""
    from keras_video import zoo
    if not os.path.exists(path) and not os.path.exists(os.fspath(path) + ".index"):
        raise FileNotFoundError(f"{path} does not exist")
    converter = CONVERTERS[converter_for(model_name, path)]
    model = zoo.get(model_name, **model_kwargs)
    return converter(model, path)
