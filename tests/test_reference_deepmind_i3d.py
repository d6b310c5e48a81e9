"""DeepMind kinetics-i3d checkpoints converted by keras-video compute DeepMind's I3D.

The reference (`inception_reference`) is i3d.py written again with tf.nn ops that read each
tensor by its checkpoint name; the checkpoints hold random values under DeepMind's names and in
the layouts of the released files, which the first test checks against the real indexes.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_video import zoo

import inception_reference as reference
from conftest import TINY, fixtures_or_skip

# Where each released checkpoint keeps its variables: the prefix, and whether it is in the
# Kinetics-600 layout (BatchNorm vectors stored [1, 1, 1, 1, C], Momentum slots beside every
# trainable variable).
RELEASED = {
    "rgb_imagenet": ("RGB/inception_i3d/", False),
    "rgb_scratch": ("RGB/inception_i3d/", False),
    "flow_imagenet": ("Flow/inception_i3d/", False),
    "flow_scratch": ("Flow/inception_i3d/", False),
    "rgb_scratch_kin600": ("", True),
}
# A clip whose time, height and width all differ, so that a transposed axis shows, and whose
# sizes turn odd deeper in (5 frames and 5 columns after MaxPool3d_4a_3x3, 3 x 2 x 3 at
# Mixed_5c), so that stride-2 layers meet both the even and the odd case of TF's SAME padding.
# Smaller than 224: the head's 2x7x7 window is clipped to 2x2x3, as keras-video's head does.
CLIP = (20, 64, 80)


def _tiny(w):
    return max(int(w * TINY["width_multiplier"]), TINY["min_width"])


def _as_released(values, prefix, kinetics600):
    """`{checkpoint name: array}` of the reference's variables in a released file's layout."""
    stored = {}
    for name, value in values.items():
        if kinetics600 and "/batch_norm/" in name:
            value = value.reshape(1, 1, 1, 1, -1)
        stored[prefix + name] = value
        if kinetics600 and not name.endswith(("/moving_mean", "/moving_variance")):
            stored[prefix + name + "/Momentum"] = np.zeros_like(value)
    return stored


def _channels_classes(checkpoint):
    return 2 if checkpoint.startswith("flow") else 3, 600 if checkpoint.endswith("600") else 400


@pytest.mark.parametrize("checkpoint", list(RELEASED))
def test_the_reference_reads_the_variables_of_deepminds_checkpoints(checkpoint, rng):
    """Every name and shape in the real index is one the full-size reference reads, and the
    other way round: the reference's network and the released files' layouts are DeepMind's."""
    index = fixtures_or_skip("kinetics-i3d", "data", "checkpoints", checkpoint, "model.ckpt.index")
    channels, classes = _channels_classes(checkpoint)
    tensors = reference.RandomTensors(rng)
    reference.forward(reference.I3D, tensors, rng.uniform(-1, 1, (1, 4, 32, 32, channels)),
                      classes)
    expected = {name: list(value.shape)
                for name, value in _as_released(tensors.values, *RELEASED[checkpoint]).items()}
    assert dict(tf.train.list_variables(str(index)[: -len(".index")])) == expected


def _checkpoint(tmp_path, rng, checkpoint, clips, width):
    """Writes a checkpoint of random values in `checkpoint`'s layout, its BatchNorm statistics
    those of a training-mode pass over `clips` (normalised); returns its path prefix. The clips
    must leave tens of positions per channel at Mixed_5c: statistics of a handful would make
    BatchNorm divide by near-zero variances and blow float32 rounding up past any tolerance."""
    prefix, kinetics600 = RELEASED[checkpoint]
    tensors = reference.RandomTensors(rng)
    reference.forward(reference.I3D, tensors, clips, _channels_classes(checkpoint)[1], width)
    path = tmp_path / "model.ckpt"
    reference.save_checkpoint(path, _as_released(tensors.values, prefix, kinetics600))
    return path


def _compare(model, path, checkpoint, video, normalised, width):
    """Our model's Mixed_5c features and logits against the reference's on the checkpoint."""
    prefix = RELEASED[checkpoint][0]
    classes = _channels_classes(checkpoint)[1]
    features, logits = reference.forward(reference.I3D, reference.CheckpointTensors(path, prefix),
                                         normalised, classes, width)
    got_features, got_logits = keras.Model(
        model.input, [model.get_layer("Mixed_5c").output, model.output])(video)
    np.testing.assert_allclose(got_features, features, atol=1e-3 * np.ptp(features))
    np.testing.assert_allclose(got_logits, logits, atol=1e-4 * np.ptp(logits))


# (released layout it imitates, how the path is given to convert)
CASES = [("rgb_imagenet", "prefix"), ("flow_scratch", "index"), ("rgb_scratch_kin600", "folder")]


@pytest.mark.parametrize("checkpoint,given_as", CASES)
def test_converted_i3d_computes_the_reference(checkpoint, given_as, tmp_path, rng):
    """A tiny-width I3D from `zoo.convert` gives the reference's logits to 1e-4 of their
    range (and Mixed_5c features, which say where a failure starts, to 1e-3): RGB in [0, 255]
    through our preprocessing (the reference takes x / 127.5 - 1), optical flow in [-1, 1]."""
    channels, classes = _channels_classes(checkpoint)
    rgb = channels == 3
    clips = rng.uniform(0, 255, (4,) + CLIP + (channels,)) if rgb else \
        rng.uniform(-1, 1, (4,) + CLIP + (channels,))
    normalised = clips / 127.5 - 1 if rgb else clips
    path = _checkpoint(tmp_path, rng, checkpoint, normalised, _tiny)
    given = {"prefix": path, "index": f"{path}.index", "folder": tmp_path}[given_as]
    model = zoo.convert(given, "i3d", classes=classes, input_shape=CLIP + (channels,),
                            include_preprocessing=rgb, classifier_activation=None, **TINY)
    _compare(model, path, checkpoint, clips[:1].astype("float32"), normalised[:1], _tiny)


@pytest.mark.slow
def test_full_size_converted_i3d_computes_the_reference(tmp_path, rng):
    """The same at DeepMind's widths (rgb_imagenet's layout)."""
    clips = rng.uniform(0, 255, (4,) + CLIP + (3,))
    normalised = clips / 127.5 - 1
    path = _checkpoint(tmp_path, rng, "rgb_imagenet", normalised, lambda w: w)
    model = zoo.convert(path, "i3d", input_shape=CLIP + (3,), classifier_activation=None)
    _compare(model, path, "rgb_imagenet", clips[:1].astype("float32"), normalised[:1],
             lambda w: w)
