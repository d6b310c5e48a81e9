"""PyTorch video-model state dicts (torchvision, VMZ, MMAction2, pytorchvideo) -> keras-video.

In these state dicts every conv weight is followed by its BatchNorm's weight, bias,
running_mean and running_var; ours is a `Unit3D`. The networks list their units in the same
order (PyTorch's registration order, our build order), so units are paired in order and every
tensor's shape is checked on the way. pytorchvideo registers a block's shortcut before its main
path, so its `branch1_*` keys are moved behind the block's `branch2.*` first.
State dicts are plain `{name: numpy array}` mappings (`torch_files.read_state_dict` reads them
from `.pth` files).
"""
import re

import numpy as np

from keras_video.layers import InceptionBlock3D, ResidualBlock3D, SelfGating, SepConv3D, Unit3D

_BN = ("weight", "bias", "running_mean", "running_var")


def _units(model, skip_gates=False):
    """Keras Unit3D layers in network order, and the classifier (conv or dense) if any; with
    `skip_gates`, S3D-G's gates are left out (they have no PyTorch counterpart)."""
    units, head = [], None
    head_name = getattr(model, "classifier_layer", None)  # a zoo VideoModel names its head

    def visit(layer):
        if isinstance(layer, Unit3D):
            units.append(layer)
        elif isinstance(layer, SepConv3D):
            for sub in (layer.spatial, layer.temporal):
                visit(sub)
        elif isinstance(layer, InceptionBlock3D):
            for branch in layer.branches:
                for sub in branch:
                    if isinstance(sub, SelfGating) and not skip_gates:
                        raise ValueError(f"{layer.name}/{sub.name} has no PyTorch counterpart")
                    visit(sub)
        elif isinstance(layer, ResidualBlock3D):
            for sub in layer.main + [layer.shortcut]:
                visit(sub)

    for layer in model.layers:
        if layer.name == head_name and layer.weights:
            head = layer
        elif isinstance(layer, SelfGating) and skip_gates:
            continue
        elif layer.weights and layer.name != "preprocessing":
            if not isinstance(layer, (Unit3D, SepConv3D, InceptionBlock3D, ResidualBlock3D)):
                raise ValueError(f"layer {layer.name!r} has no torchvision counterpart")
            visit(layer)
    return units, head


def _shortcuts_last(state_dict):
    order, held, block = [], [], None
    for key in state_dict:
        key_block = re.split(r"\.branch[12]", key)[0] if ".branch" in key else None
        if key_block != block:
            order, held, block = order + held, [], key_block
        (held if ".branch1_" in key else order).append(key)
    return {k: state_dict[k] for k in order + held}


def _torch_units(state_dict):
    """`[(conv key, BatchNorm prefix)]` in state-dict order (each conv with the BatchNorm that
    follows it), and the keys left over (the classifier)."""
    bn_prefixes = {k[: -len("running_mean")] for k in state_dict if k.endswith(".running_mean")}
    units, pending = [], None
    for key, value in state_dict.items():
        if key.endswith(".weight") and key[: -len("weight")] in bn_prefixes:
            if pending is None:
                raise ValueError(f"BatchNorm {key} follows no conv")
            units.append((pending, key[: -len("weight")]))
            pending = None
        elif key.endswith(".weight") and np.ndim(value) == 5:
            pending = key
    used = {conv for conv, _ in units}
    used |= {bn + n for _, bn in units for n in _BN + ("num_batches_tracked",)}
    return units, [k for k in state_dict if k not in used]


def _torch_to_keras(value, depthwise=False):
    """Conv (out, in, t, h, w) -> (t, h, w, in, out); depthwise (channels, 1, t, h, w) ->
    (t, h, w, channels, 1); linear (out, in) -> (in, out)."""
    value = np.asarray(value)
    if value.ndim == 5:
        return np.transpose(value, (2, 3, 4, 0, 1) if depthwise else (2, 3, 4, 1, 0))
    return value.T


def load_state_dict(model, state_dict, skip_gates=False):
    """Copies a PyTorch video model's state dict into the keras-video model of the same
    architecture: torchvision's `s3d`, `r3d_18`, `mc3_18`, `r2plus1d_18`; VMZ's, MMAction2's
    and pytorchvideo's CSNs. Raises on any count or shape
    mismatch, leaving nothing unassigned; a model built with `include_top=False` takes the
    backbone and leaves the classifier out. `skip_gates=True` leaves S3D-G's gates to the
    caller (see `keras_video.zoo.inception3d.checkpoints.identity_gates`)."""
    units, head = _units(model, skip_gates)
    state_dict = _shortcuts_last(state_dict)
    torch_units, rest = _torch_units(state_dict)
    if len(units) != len(torch_units):
        raise ValueError(f"the model has {len(units)} conv units, the state dict "
                         f"{len(torch_units)}")
    assignments = []
    for unit, (conv_key, bn) in zip(units, torch_units):
        if unit.bn is None or not unit.bn.scale:
            raise ValueError(f"{unit.name}: torchvision units have BatchNorm with scale")
        targets = (unit.conv.kernel, unit.bn.gamma, unit.bn.beta, unit.bn.moving_mean,
                   unit.bn.moving_variance)
        values = (_torch_to_keras(state_dict[conv_key], unit.depthwise),) + tuple(
            np.asarray(state_dict[bn + name]) for name in _BN)
        assignments += list(zip((conv_key,) + tuple(bn + n for n in _BN), targets, values))
    if len(rest) != 2 or not (rest[0].endswith(".weight") and rest[1].endswith(".bias")):
        raise ValueError(f"expected one classifier weight and bias beyond the units, got {rest}")
    if head is not None:
        assignments.append((rest[0], head.kernel, _torch_to_keras(state_dict[rest[0]])))
        assignments.append((rest[1], head.bias, np.asarray(state_dict[rest[1]])))
    for key, variable, value in assignments:
        if tuple(variable.shape) != np.shape(value):
            raise ValueError(f"{key}: shape {np.shape(value)} does not fit "
                             f"{variable.path} {tuple(variable.shape)}")
    for _, variable, value in assignments:
        variable.assign(value)
    return model
