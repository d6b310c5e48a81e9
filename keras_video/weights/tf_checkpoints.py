"""Reading TF1 checkpoints (DeepMind's Sonnet I3D, TF-slim) into Keras variables by name.

A checkpoint's model variables sit under a prefix (`RGB/inception_i3d/`, `InceptionV1/`, or none)
that is found from one `anchor` variable every such checkpoint has; optimizer slots are skipped.
"""
import os
import re

import tensorflow as tf

_SLOTS = ("/Momentum", "/ExponentialMovingAverage", "/RMSProp", "global_step")


def checkpoint_variables(path, anchor, kind):
    """`{name without prefix: shape}` of a checkpoint's model variables, and the prefix."""
    shapes = dict(tf.train.list_variables(path))
    prefixes = [name[: -len(anchor)] for name in shapes if name.endswith(anchor)]
    if len(prefixes) != 1:
        raise ValueError(f"{path} does not look like a {kind} checkpoint: "
                         f"no single '{anchor}' variable")
    prefix = prefixes[0]
    return {name[len(prefix):]: shape for name, shape in shapes.items()
            if name.startswith(prefix) and not any(s in name for s in _SLOTS)}, prefix


def _squeezed(shape):
    return tuple(int(d) for d in shape if d != 1)


def assign(wanted, path, anchor, kind):
    """Copies checkpoint tensors into `wanted` (`{name without prefix: variable}`); raises if
    any variable or checkpoint tensor is left over or mis-shaped. Shapes may differ by
    dimensions of 1 (Kinetics-600 I3D stores BatchNorm vectors as [1, 1, 1, 1, C])."""
    found, prefix = checkpoint_variables(path, anchor, kind)
    missing, unused = sorted(set(wanted) - set(found)), sorted(set(found) - set(wanted))
    if missing or unused:
        raise ValueError(f"{path} and the model disagree. Missing from the checkpoint: {missing}."
                         f" Not in the model: {unused}.")
    reader = tf.train.load_checkpoint(path)
    for name, variable in wanted.items():
        value = reader.get_tensor(prefix + name)
        if _squeezed(value.shape) != _squeezed(variable.shape):
            raise ValueError(f"{name}: checkpoint shape {value.shape} does not fit the model's "
                             f"{tuple(variable.shape)} (check classes and input channels)")
        variable.assign(value.reshape(variable.shape))


def checkpoint_prefix(path):
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
