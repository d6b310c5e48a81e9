"""Inflation of 2D ImageNet networks into 3D ones, S3D-G's identity gates, weights="imagenet"."""
import tarfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_video import zoo
from keras_video.weights import fetching
from keras_video.zoo import InceptionV1, inflate
from keras_video.zoo.inception3d import checkpoints, slim_inception

from conftest import TINY

FRAMES = 112  # long enough for I3D's centre output to see no temporal padding


def _randomise(model, rng):
    """He-scaled kernels and varied BN statistics, so every weight shows in the output."""
    for v in model.weights:
        if "moving_variance" in v.path:
            v.assign(rng.uniform(0.5, 1.5, v.shape))
        elif "kernel" in v.path:
            v.assign(rng.normal(0, (2 / np.prod(v.shape[:-1])) ** 0.5, v.shape))
        else:
            v.assign(rng.normal(0, 0.1, v.shape))
    return model


@pytest.mark.parametrize("name,kwargs", [("i3d", {}), ("s3d", dict(padding="same")),
                                         ("s3dg", dict(padding="same"))])
def test_a_repeated_frame_gives_the_2d_features(name, kwargs, rng):
    """The inflation property: a video of one frame repeated is the 2D network's features for
    that frame, at every frame that sees no temporal zero padding (S3D's identity temporal
    kernels see none). S3D is built with TF-slim's SAME padding here: its default PyTorch-style
    padding shifts stride-2 windows."""
    image_model = _randomise(InceptionV1(include_top=False, input_shape=(32, 32, 3),
                                         include_preprocessing=False, **TINY), rng)
    video_model = zoo.get(name, include_top=False, input_shape=(FRAMES, 32, 32, 3),
                          include_preprocessing=False, **TINY, **kwargs)
    report = inflate(video_model, image_model)
    assert report.not_inflated == [] and len(report.inflated) == 57
    frame = rng.uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    expected = np.asarray(image_model(frame))[0]
    features = np.asarray(video_model(np.repeat(frame[:, None], FRAMES, axis=1)))[0]
    frames = [features.shape[0] // 2] if name == "i3d" else range(features.shape[0])
    for t in frames:
        np.testing.assert_allclose(features[t], expected, atol=1e-5 * np.abs(expected).max())


def test_input_normalisation_is_folded_into_the_first_conv(rng):
    """An S3D normalising with Kinetics statistics, inflated from an Inception-v1 that expects
    [-1, 1]: the first unit matches the 2D one away from the image border."""
    image_model = _randomise(InceptionV1(include_top=False, input_shape=(64, 64, 3), **TINY), rng)
    video_model = zoo.get("s3d", include_top=False, input_shape=(4, 64, 64, 3),
                          padding="same", **TINY)
    inflate(video_model, image_model)
    frame = rng.uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    first_2d = keras.Model(image_model.inputs, image_model.get_layer("Conv2d_1a_7x7_relu").output)
    first_3d = keras.Model(video_model.inputs, video_model.get_layer("Conv3d_1a_7x7").output)
    expected = np.asarray(first_2d(frame))[0, 2:-2, 2:-2]
    got = np.asarray(first_3d(np.repeat(frame[:, None], 4, axis=1)))[0, 1, 2:-2, 2:-2]
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())


def test_resnet50_inflates_into_the_csn_convs_that_map(rng):
    """keras.applications ResNet50 into ip-CSN-50: stem, 1x1x1 convs and shortcuts take its
    weights (biases folded into the BN means); the depthwise middles and ip's extra pointwise
    convs have no 2D counterpart and are reported."""
    resnet = _randomise(keras.applications.ResNet50(weights=None, include_top=False,
                                                    input_shape=(64, 64, 3)), rng)
    csn = zoo.get("ip_csn_50", include_top=False, input_shape=(4, 64, 64, 3))
    report = inflate(csn, resnet)
    assert len(report.inflated) == 1 + 16 * 2 + 4  # stem, conv1 and conv3 of 16 blocks, shortcuts
    assert all("conv2_pointwise" in p or "conv2_depthwise" in p for p in report.not_inflated)
    assert len(report.not_inflated) == 16 * 2 * 5  # kernel + gamma, beta, mean, variance
    block, conv, bn = (csn.get_layer("res3_block1").main[0], resnet.get_layer(
        "conv3_block2_1_conv"), resnet.get_layer("conv3_block2_1_bn"))
    np.testing.assert_array_equal(block.conv.kernel.numpy()[0], conv.kernel.numpy())
    np.testing.assert_allclose(block.bn.moving_mean.numpy(),
                               bn.moving_mean.numpy() - conv.bias.numpy(), rtol=1e-6)
    np.testing.assert_allclose(block.bn.moving_variance.numpy(),
                               bn.moving_variance.numpy() + bn.epsilon - block.bn.epsilon,
                               rtol=1e-6)


def test_identity_gates_make_s3dg_compute_s3d(rng):
    """S3D weights in S3D-G with identity gates: the same function, bit for bit."""
    s3d = _randomise(zoo.S3D(input_shape=(8, 32, 32, 3), **TINY), rng)
    s3dg = zoo.S3DG(input_shape=(8, 32, 32, 3), **TINY)
    by_path = {v.path: v for v in s3d.weights}
    for variable in s3dg.weights:
        if variable.path in by_path:
            variable.assign(by_path[variable.path])
    checkpoints.identity_gates(s3dg)
    clip = rng.uniform(0, 255, (2, 8, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(s3dg(clip)), np.asarray(s3d(clip)))
    gates = [v for v in s3dg.weights if "_gating/" in v.path]
    assert gates and all(not np.any(v.numpy()) for v in gates)


def _write_slim_archive(path, rng):
    """A TF-slim-format Inception-v1 checkpoint (full size, slim's names) in a .tar.gz."""
    model = InceptionV1(include_top=False, input_shape=(None, None, 3))
    assert model.name == "inception_v1"  # not its last block's (a loop once reused `name`)
    tensors = {"InceptionV1/" + n: rng.normal(0, 0.05, v.shape).astype("float32")
               for n, v in slim_inception.variable_map(model).items()}
    folder = path.parent / "slim"
    folder.mkdir()
    names = list(tensors)
    tf.raw_ops.SaveV2(prefix=str(folder / "inception_v1.ckpt"), tensor_names=names,
                      shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[n]) for n in names])
    with tarfile.open(path, "w:gz") as tar:
        for f in folder.iterdir():
            tar.add(f, arcname=f.name)
    return tensors


def test_imagenet_weights_inflate_from_the_slim_checkpoint(tmp_path, rng, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    tensors = _write_slim_archive(mirror / "inception_v1_2016_08_28.tar.gz", rng)
    monkeypatch.setenv(fetching.MIRROR_ENV, str(mirror))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    model = zoo.I3D(weights="imagenet", include_top=False, input_shape=(8, 64, 64, 3))
    kernel = model.get_layer("Mixed_4c").branch_1[1].conv.kernel.numpy()
    source = tensors["InceptionV1/Mixed_4c/Branch_1/Conv2d_0b_3x3/weights"]
    np.testing.assert_allclose(kernel, np.repeat(source[None], 3, 0) / 3, rtol=1e-6)
    with pytest.raises(ValueError, match="Registered weights for 'r3d_18': kinetics400"):
        zoo.get("r3d_18", weights="imagenet")
