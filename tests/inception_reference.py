"""Inception-v1 written again, independently of keras_video, to check the checkpoint converters.

Two flavours of one network, each as its authors' code builds it and names its variables:
DeepMind's kinetics-i3d `i3d.py` (Sonnet; 3D, `Conv3d_1a_7x7/conv_3d/w`, `.../batch_norm/beta`)
and TF-slim's `inception_v1.py` (2D, `Conv2d_1a_7x7/weights`, `.../BatchNorm/beta`). The forward
pass is plain `tf.nn` ops that take every tensor by its checkpoint name (from `RandomTensors`
while a checkpoint is made up, from `CheckpointTensors` while one is read), so a converter that
puts a tensor in the wrong Keras weight changes the logits. Nothing here imports keras_video:
the widths below are written out again on purpose (the tests check them against DeepMind's real
checkpoint indexes).

Both networks: convs with SAME padding and no bias, BatchNorm without scale (epsilon 1e-3), ReLU;
Mixed blocks of four branches (1x1; 1x1 then 3x3; 1x1 then 3x3; 3x3 max pool stride 1 then 1x1)
concatenated on channels; a head of average pooling (I3D 2x7x7, slim 7x7, VALID), a 1x1 conv
with bias, and the mean over the remaining time (and space) positions.
"""
import numpy as np
import tensorflow as tf

# Block widths (b0, b1_reduce, b1, b2_reduce, b2, b3): GoogLeNet's, as i3d.py and slim list them.
MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
# i3d.py's layers in order: units (filters, kernel, strides) and max pools (window, strides),
# in 3D; slim's 2D network is the same with the time axis dropped.
LAYOUT = (
    ("Conv_1a_7x7", "unit", 64, (7, 7, 7), (2, 2, 2)),
    ("MaxPool_2a_3x3", "pool", None, (1, 3, 3), (1, 2, 2)),
    ("Conv_2b_1x1", "unit", 64, (1, 1, 1), (1, 1, 1)),
    ("Conv_2c_3x3", "unit", 192, (3, 3, 3), (1, 1, 1)),
    ("MaxPool_3a_3x3", "pool", None, (1, 3, 3), (1, 2, 2)),
    ("Mixed_3b", "mixed"), ("Mixed_3c", "mixed"),
    ("MaxPool_4a_3x3", "pool", None, (3, 3, 3), (2, 2, 2)),
    ("Mixed_4b", "mixed"), ("Mixed_4c", "mixed"), ("Mixed_4d", "mixed"), ("Mixed_4e", "mixed"),
    ("Mixed_4f", "mixed"),
    ("MaxPool_5a_2x2", "pool", None, (2, 2, 2), (2, 2, 2)),
    ("Mixed_5b", "mixed"), ("Mixed_5c", "mixed"),
)
EPSILON = 1e-3  # snt.BatchNorm's and slim's inception_v1_arg_scope's


class Flavour:
    """One network's ops and naming: `rank` spatial(-temporal) axes, its conv scope prefix
    (`Conv3d` / `Conv2d`), kernel and BatchNorm variable names, and its head's pool window."""

    def __init__(self, rank, conv, kernel, bias, batch_norm, head_window):
        self.rank, self.conv, self.kernel, self.bias = rank, conv, kernel, bias
        self.batch_norm, self.head_window = batch_norm, head_window

    def dims(self, triple):  # a 3D kernel or stride of LAYOUT in this flavour
        return tuple(triple[-self.rank:])

    def convolve(self, x, w, strides):
        op = tf.nn.conv3d if self.rank == 3 else tf.nn.conv2d
        return op(x, w, (1,) + strides + (1,), "SAME")

    def max_pool(self, x, window, strides):
        op = tf.nn.max_pool3d if self.rank == 3 else tf.nn.max_pool2d
        return op(x, (1,) + window + (1,), (1,) + strides + (1,), "SAME")

    def avg_pool(self, x, window):
        op = tf.nn.avg_pool3d if self.rank == 3 else tf.nn.avg_pool2d
        return op(x, (1,) + window + (1,), (1,) * (self.rank + 2), "VALID")


I3D = Flavour(3, "Conv3d", "conv_3d/w", "conv_3d/b", "batch_norm", (2, 7, 7))
SLIM = Flavour(2, "Conv2d", "weights", "biases", "BatchNorm", (7, 7))


def _unit(f, tensors, x, scope, filters, kernel, strides):
    w = tensors.get(f"{scope}/{f.kernel}", kernel + (x.shape[-1], filters), "kernel")
    y = f.convolve(x, w, strides)
    bn = f"{scope}/{f.batch_norm}/"
    beta = tensors.get(bn + "beta", (filters,), "beta")
    if tensors.training:  # a training-mode pass: batch statistics, recorded as moving ones
        mean, variance = tf.nn.moments(y, axes=list(range(f.rank + 1)))
        tensors.record(bn + "moving_mean", mean)
        tensors.record(bn + "moving_variance", variance)
    else:
        mean = tensors.get(bn + "moving_mean", (filters,), "moving_mean")
        variance = tensors.get(bn + "moving_variance", (filters,), "moving_variance")
    return tf.nn.relu(tf.nn.batch_normalization(y, mean, variance, beta, None, EPSILON))


def _mixed(f, tensors, x, block, widths):
    b0, b1a, b1b, b2a, b2b, b3 = widths
    one, three = (1,) * f.rank, (3,) * f.rank
    unit = lambda x, branch, name, n, k: _unit(  # noqa: E731
        f, tensors, x, f"{block}/{branch}/{f.conv}_{name}", n, k, one)
    # DeepMind and slim both named Mixed_5b's second 3x3 "0a", unlike every other block.
    b2_name = "0a_3x3" if block == "Mixed_5b" else "0b_3x3"
    branches = (
        unit(x, "Branch_0", "0a_1x1", b0, one),
        unit(unit(x, "Branch_1", "0a_1x1", b1a, one), "Branch_1", "0b_3x3", b1b, three),
        unit(unit(x, "Branch_2", "0a_1x1", b2a, one), "Branch_2", b2_name, b2b, three),
        unit(f.max_pool(x, three, one), "Branch_3", "0b_1x1", b3, one),
    )
    return tf.concat(branches, axis=-1)


def forward(f, tensors, x, classes, width=lambda w: w):
    """Features (Mixed_5c) and logits of the network `f` for `x` (batch, [time,] height, width,
    channels; normalised to [-1, 1]); `width(w)` gives the filters of a layer of `w` filters.

    The head's window is clipped to the feature map where that is smaller, as keras-video does
    after TF-slim's `i3d_utils.reduced_kernel_size_3d` (DeepMind's i3d.py and slim's
    inception_v1.py take 224 x 224 inputs, where no clipping is needed)."""
    x = tf.constant(np.asarray(x, "float32"))
    for name, kind, *spec in LAYOUT:
        scope = name.replace("Conv", f.conv)
        if kind == "unit":
            filters, kernel, strides = spec
            x = _unit(f, tensors, x, scope, width(filters), f.dims(kernel), f.dims(strides))
        elif kind == "pool":
            _, window, strides = spec
            x = f.max_pool(x, f.dims(window), f.dims(strides))
        else:
            x = _mixed(f, tensors, x, name, [width(w) for w in MIXED[name]])
    features = x
    window = tuple(min(k, n) for k, n in zip(f.head_window, x.shape[1:-1]))
    x = f.avg_pool(x, window)
    w = tensors.get(f"Logits/{f.conv}_0c_1x1/{f.kernel}", (1,) * f.rank + (x.shape[-1], classes),
                    "kernel")
    b = tensors.get(f"Logits/{f.conv}_0c_1x1/{f.bias}", (classes,), "bias")
    logits = f.convolve(x, w, (1,) * f.rank) + b
    return features, tf.reduce_mean(logits, axis=list(range(1, f.rank + 1)))


class RandomTensors:
    """A network's checkpoint tensors made up on first use, for a training-mode pass: He-normal
    kernels, random betas and classifier biases, and BatchNorm moving statistics recorded from
    the batch (so that activations keep unit scale and every weight shows in the output)."""

    training = True

    def __init__(self, rng):
        self.rng, self.values = rng, {}

    def get(self, name, shape, kind):
        if name not in self.values:
            if kind == "kernel":
                value = self.rng.normal(0, np.sqrt(2 / np.prod(shape[:-1])), shape)
            else:
                value = self.rng.uniform(-0.5, 0.5, shape)
            self.values[name] = value.astype("float32")
        return self.values[name]

    def record(self, name, value):
        self.values[name] = np.asarray(value, "float32")


class CheckpointTensors:
    """A TF1 checkpoint's tensors by name (after `prefix`), each checked against the shape the
    network needs (up to dimensions of 1, as Kinetics-600 I3D stores BatchNorm vectors)."""

    training = False

    def __init__(self, path, prefix=""):
        self.reader, self.prefix = tf.train.load_checkpoint(str(path)), prefix

    def get(self, name, shape, kind):
        value = self.reader.get_tensor(self.prefix + name)
        squeezed = tuple(d for d in value.shape if d != 1)
        if squeezed != tuple(d for d in shape if d != 1):
            raise ValueError(f"{name}: checkpoint shape {value.shape}, the network needs {shape}")
        return value.reshape(shape)


def save_checkpoint(path, tensors):
    """Writes `{name: array}` as a TF1 (name-based) checkpoint at the prefix `path`."""
    names = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=str(path), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[n]) for n in names])
