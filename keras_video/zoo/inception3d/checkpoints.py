"""Upstream checkpoints of the Inception family and the S3D-G gate surgery.

- DeepMind kinetics-i3d (TF1): `deepmind_i3d` maps checkpoint names onto I3D.
- torchvision's S3D (PyTorch): units paired in order (`keras_video.weights.torch_state_dicts`).
- S3D-G from S3D's weights: no Kinetics-trained S3D-G checkpoint is public, so S3D's weights go
  into an S3D-G whose gates are set to pass features through (`identity_gates`); the network
  then computes exactly S3D's function until the gates are fine-tuned.
"""
import numpy as np

from keras_video.layers import InceptionBlock3D, SelfGating, SepConv3D, Unit3D
from keras_video.weights import tf_checkpoints, torch_files, torch_state_dicts
from keras_video.zoo.inception3d import deepmind_i3d


def load_deepmind_i3d(model, path):
    """A DeepMind I3D checkpoint (its prefix, `.index` / `.data-*` file or folder) into I3D."""
    return deepmind_i3d.load_checkpoint(model, tf_checkpoints.checkpoint_prefix(path))


def load_torchvision(model, path):
    """A torchvision S3D `.pth` state dict into S3D (or a variant of the same units)."""
    return torch_state_dicts.load_state_dict(model, torch_files.read_state_dict(path))


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


def load_s3d_into_s3dg(model, path):
    """torchvision's S3D weights into an S3D-G (see `identity_gates`)."""
    state = torch_files.read_state_dict(path)
    return identity_gates(torch_state_dicts.load_state_dict(model, state, skip_gates=True))
