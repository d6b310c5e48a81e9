"""Inflation: 3D networks initialised from 2D ImageNet networks (Carreira & Zisserman 2017;
Xie et al. 2018).

- A full `t x k x k` kernel takes the 2D `k x k` kernel repeated over time and divided by `t`
  (`method="replicate"`, I3D's "boring video" rule) or at the centre tap only (`"centre"`).
- A separable unit (S3D's `1 x k x k` then `t x 1 x 1`) takes the 2D kernel spatially and the
  identity in time, with an identity BatchNorm, so it computes the 2D unit exactly.
- BatchNorm statistics are copied (a 2D conv bias is folded into the mean, a different epsilon
  into the variance). (The Inception family then sets S3D-G's gates to pass features through.)
- The 2D network's input convention (channel order, mean, std) is folded into the first conv
  when the 3D model normalises its input differently; exact except on the image border, where
  the zero padding differs.
Either way, a video of one repeated frame gives the 2D network's features for that frame away
from the clip's first and last frames (zero temporal padding). The report lists every 3D weight
with no 2D counterpart (e.g. the depthwise middles of CSNs from a ResNet-50).

Which 2D layer feeds which 3D unit is a fact about each family (`inflation_pairs` beside it
in `keras_video.zoo`; `keras_video.zoo.inflate` picks them): TF-slim Inception-v1 into the
Inception family, `keras.applications` ResNet50/101/152 into the CSNs of the same depth (their
1x1x1 convs, stem and shortcuts; the depthwise middles stay as initialised).
"""
import dataclasses

import keras
import numpy as np

from keras_video.layers import SepConv3D, Unit3D

METHODS = ("replicate", "centre")
# Input conventions of the 2D sources in [0, 255] units: channel order, mean, std.
SLIM_INPUT = ("rgb", (127.5,) * 3, (127.5,) * 3)
CAFFE_INPUT = ("bgr", (103.939, 116.779, 123.68), (1.0,) * 3)  # keras.applications ResNet


@dataclasses.dataclass
class InflationReport:
    inflated: list        # names of the 3D units that took 2D weights
    not_inflated: list    # 3D weight paths left as they were initialised

    def __str__(self):
        return (f"{len(self.inflated)} layers inflated; {len(self.not_inflated)} weights left "
                f"as initialised" + (f": {', '.join(self.not_inflated[:8])}"
                                     f"{' ...' if len(self.not_inflated) > 8 else ''}"
                                     if self.not_inflated else ""))


def _conv_and_bn(layers_2d, conv_name):
    """A 2D conv layer and the BatchNorm after it (`X_conv` / `X_bn` as keras.applications,
    `X` / `X_bn` as InceptionV1); None where the 2D model has no such conv."""
    base = conv_name[: -len("_conv")] if conv_name.endswith("_conv") else conv_name
    return layers_2d.get(conv_name), layers_2d.get(base + "_bn")


def _inflate_kernel(kernel_2d, shape_3d, method):
    kt = shape_3d[0]
    if method == "replicate":
        return np.repeat(kernel_2d[None], kt, axis=0) / kt
    out = np.zeros(shape_3d, kernel_2d.dtype)
    out[kt // 2] = kernel_2d
    return out


def _copy_bn(bn_3d, bn_2d, bias):
    """BatchNorm statistics from 2D to 3D, with a preceding conv's bias folded into the mean
    and the difference of epsilons into the variance."""
    mean = keras.ops.convert_to_numpy(bn_2d.moving_mean) - bias
    var = keras.ops.convert_to_numpy(bn_2d.moving_variance) + bn_2d.epsilon - bn_3d.epsilon
    bn_3d.moving_mean.assign(mean)
    bn_3d.moving_variance.assign(np.maximum(var, 0.0))
    bn_3d.beta.assign(bn_2d.beta)
    if bn_3d.scale:
        bn_3d.gamma.assign(bn_2d.gamma if bn_2d.scale else np.ones(bn_3d.gamma.shape))
    elif bn_2d.scale:
        raise ValueError(f"{bn_3d.path}: the 2D BatchNorm has a scale and this one none")


def _identity_unit(unit):
    """A `t x 1 x 1` unit that passes its input through: centre-tap identity kernel and a
    BatchNorm that computes y = x."""
    kernel = np.zeros(unit.conv.kernel.shape, "float32")
    channels = kernel.shape[-1]
    kernel[kernel.shape[0] // 2, 0, 0] = np.eye(channels)
    unit.conv.kernel.assign(kernel)
    bn = unit.bn
    bn.moving_mean.assign(np.zeros(channels))
    bn.moving_variance.assign(np.full(channels, 1.0 - bn.epsilon))
    bn.beta.assign(np.zeros(channels))
    if bn.scale:
        bn.gamma.assign(np.ones(channels))


def _unit_weights(unit, conv, bn, method, done):
    """Inflates one 2D conv (+ BN) into a 3D unit; returns False where the shapes do not map."""
    target = unit.spatial if isinstance(unit, SepConv3D) else unit
    kernel_3d = target.conv.kernel if isinstance(target, Unit3D) else target.kernel
    kernel_2d = keras.ops.convert_to_numpy(conv.kernel)
    if (isinstance(target, Unit3D) and target.depthwise) or \
            tuple(kernel_3d.shape[1:]) != kernel_2d.shape:
        return False
    kernel_3d.assign(_inflate_kernel(kernel_2d, tuple(kernel_3d.shape), method))
    bias = keras.ops.convert_to_numpy(conv.bias) if conv.use_bias else 0.0
    if isinstance(target, Unit3D):
        if bn is None:
            raise ValueError(f"{conv.name} has no BatchNorm, but {target.name} has one")
        _copy_bn(target.bn, bn, bias)
    else:  # the classifier conv
        target.bias.assign(bias)
    done.update(v.path for v in target.weights)
    if isinstance(unit, SepConv3D):
        _identity_unit(unit.temporal)
        done.update(v.path for v in unit.temporal.weights)
    return True


def _fold_input(unit, source_input, model_3d):
    """Folds the 2D network's input convention into the first unit's kernel and BN mean, so the
    3D model's own preprocessing feeds it."""
    try:
        rescaling = model_3d.get_layer("preprocessing")
    except ValueError:
        return
    scale = np.broadcast_to(np.asarray(rescaling.scale, "float64"), (3,))
    offset = np.broadcast_to(np.asarray(rescaling.offset, "float64"), (3,))
    std_t, mean_t = 1.0 / scale, -offset / scale   # x = std_t * n + mean_t (RGB, 0-255)
    order, mean_s, std_s = source_input
    perm = [2, 1, 0] if order == "bgr" else [0, 1, 2]   # source channel c -> RGB channel
    mean_s = np.asarray(mean_s)[perm]
    std_s = np.asarray(std_s)[perm]
    target = unit.spatial if isinstance(unit, SepConv3D) else unit
    kernel = keras.ops.convert_to_numpy(target.conv.kernel).astype("float64")
    if order == "bgr":
        kernel = kernel[..., ::-1, :]
    constant = np.einsum("thwco,c->o", kernel, (mean_t - mean_s) / std_s)
    target.conv.kernel.assign((kernel * (std_t / std_s)[:, None]).astype("float32"))
    bn = target.bn
    bn.moving_mean.assign(keras.ops.convert_to_numpy(bn.moving_mean) - constant)


def inflate(model_3d, source_2d, pairs, method="replicate", source_input=SLIM_INPUT):
    """Initialises the 3D units of `pairs` (`{2D layer name: 3D unit of model_3d}`, which each
    family's `inflation_pairs` gives) from the 2D network `source_2d`; returns an
    `InflationReport`. `source_input` is the 2D network's input convention (`SLIM_INPUT`,
    `CAFFE_INPUT`), folded into the first inflated unit.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not pairs:
        raise ValueError(f"{model_3d.name} has no layer that {source_2d.name} maps to")
    layers_2d = {layer.name: layer for layer in source_2d.layers}
    done, inflated = set(), []
    first = None
    for name, unit in pairs.items():
        conv, bn = _conv_and_bn(layers_2d, name)
        if conv is not None and _unit_weights(unit, conv, bn, method, done):
            inflated.append(unit.name)
            if first is None:
                first = unit
    if first is not None:
        _fold_input(first, source_input, model_3d)
    not_inflated = [v.path for v in model_3d.weights
                    if v.path not in done and "seed_generator" not in v.path]
    return InflationReport(inflated, not_inflated)
