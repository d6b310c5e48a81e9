"""torchvision video-model state dicts -> keras-video weights.

A torchvision `Conv3dNormActivation` is a conv weight followed by its BatchNorm's weight, bias,
running_mean and running_var; ours is a `Unit3D`. Both networks list their units in the same
order, so units are paired in order, and every tensor's shape is checked on the way.
State dicts are plain `{name: numpy array}` mappings (reading `.pth` files is not done here).
"""
import numpy as np

from keras_video.layers import InceptionBlock3D, SepConv3D, Unit3D

_BN = ("weight", "bias", "running_mean", "running_var")


def _units(model):
    """Keras Unit3D layers in network order, and the classifier conv."""
    units, head = [], None

    def visit(layer):
        if isinstance(layer, Unit3D):
            units.append(layer)
        elif isinstance(layer, SepConv3D):
            visit(layer.spatial)
            if layer.temporal is not None:
                visit(layer.temporal)
        elif isinstance(layer, InceptionBlock3D):
            for branch in layer.branches:
                for sub in branch:
                    if sub.weights:
                        visit(sub)

    for layer in model.layers:
        if layer.name == "Logits_Conv3d_0c_1x1":
            head = layer
        elif layer.weights and layer.name != "preprocessing":
            if not isinstance(layer, (Unit3D, SepConv3D, InceptionBlock3D)):
                raise ValueError(f"layer {layer.name!r} has no torchvision counterpart")
            visit(layer)
    return units, head


def _torch_units(state_dict):
    """`[(conv key, bn prefix)]` in state-dict order, and the remaining (head) keys."""
    keys, units, rest = list(state_dict), [], []
    for key in keys:
        if key.endswith(".weight") and np.ndim(state_dict[key]) == 5:
            bn = key[: -len("0.weight")] + "1."
            if bn + "running_mean" in state_dict:
                units.append((key, bn))
                continue
        if not any(key.startswith(bn) for _, bn in units) and not key.endswith(
                "num_batches_tracked"):
            rest.append(key)
    return units, rest


def load_inception_state_dict(model, state_dict):
    """Copies torchvision's `s3d` state dict into `keras_video.zoo.S3D` (or a variant of it
    with the same units); raises on any count or shape mismatch, leaving nothing unassigned.
    A model built with `include_top=False` takes the backbone and leaves the classifier out."""
    units, head = _units(model)
    torch_units, rest = _torch_units(state_dict)
    if len(units) != len(torch_units):
        raise ValueError(f"the model has {len(units)} conv units, the state dict "
                         f"{len(torch_units)}")
    assignments = []
    for unit, (conv_key, bn) in zip(units, torch_units):
        if unit.bn is None or not unit.bn.scale:
            raise ValueError(f"{unit.name}: torchvision units have BatchNorm with scale")
        kernel = np.transpose(state_dict[conv_key], (2, 3, 4, 1, 0))
        targets = (unit.conv.kernel, unit.bn.gamma, unit.bn.beta, unit.bn.moving_mean,
                   unit.bn.moving_variance)
        values = (kernel,) + tuple(state_dict[bn + name] for name in _BN)
        assignments += list(zip((conv_key,) + tuple(bn + n for n in _BN), targets, values))
    head_keys = [k for k in rest if k.startswith("classifier.")]
    if head is not None:
        weight, bias = (next(k for k in head_keys if k.endswith(s)) for s in (".weight", ".bias"))
        assignments.append((weight, head.kernel,
                            np.transpose(state_dict[weight], (2, 3, 4, 1, 0))))
        assignments.append((bias, head.bias, state_dict[bias]))
    leftover = sorted(set(rest) - set(head_keys))
    if leftover:
        raise ValueError(f"state dict tensors with no place in the model: {leftover}")
    for key, variable, value in assignments:
        if tuple(variable.shape) != np.shape(value):
            raise ValueError(f"{key}: shape {np.shape(value)} does not fit "
                             f"{variable.path} {tuple(variable.shape)}")
    for _, variable, value in assignments:
        variable.assign(value)
    return model
