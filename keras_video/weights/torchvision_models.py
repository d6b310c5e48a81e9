"""torchvision video-model state dicts -> keras-video weights.

In a torchvision state dict every conv weight is followed by its BatchNorm's weight, bias,
running_mean and running_var; ours is a `Unit3D`. Both networks list their units in the same
order (torchvision's registration order, our build order), so units are paired in order and
every tensor's shape is checked on the way.
State dicts are plain `{name: numpy array}` mappings (reading `.pth` files is not done here).
"""
import numpy as np

from keras_video.layers import InceptionBlock3D, ResidualBlock3D, SepConv3D, Unit3D

_BN = ("weight", "bias", "running_mean", "running_var")


def _units(model):
    """Keras Unit3D layers in network order, and the classifier (conv or dense) if any."""
    units, head = [], None

    def visit(layer):
        if isinstance(layer, Unit3D):
            units.append(layer)
        elif isinstance(layer, SepConv3D):
            for sub in (layer.spatial, layer.temporal):
                visit(sub)
        elif isinstance(layer, InceptionBlock3D):
            for branch in layer.branches:
                for sub in branch:
                    visit(sub)
        elif isinstance(layer, ResidualBlock3D):
            for sub in layer.main + [layer.shortcut]:
                visit(sub)

    for layer in model.layers:
        if layer.name in ("Logits_Conv3d_0c_1x1", "logits") and layer.weights:
            head = layer
        elif layer.weights and layer.name != "preprocessing":
            if not isinstance(layer, (Unit3D, SepConv3D, InceptionBlock3D, ResidualBlock3D)):
                raise ValueError(f"layer {layer.name!r} has no torchvision counterpart")
            visit(layer)
    return units, head


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


def _torch_to_keras(value):
    """Conv (out, in, t, h, w) -> (t, h, w, in, out); linear (out, in) -> (in, out)."""
    value = np.asarray(value)
    return np.transpose(value, (2, 3, 4, 1, 0)) if value.ndim == 5 else value.T


def load_state_dict(model, state_dict):
    """Copies a torchvision video model's state dict (`s3d`, `r3d_18`, `mc3_18`,
    `r2plus1d_18`) into the keras-video model of the same name. Raises on any count or shape
    mismatch, leaving nothing unassigned; a model built with `include_top=False` takes the
    backbone and leaves the classifier out."""
    units, head = _units(model)
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
        values = (_torch_to_keras(state_dict[conv_key]),) + tuple(
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
