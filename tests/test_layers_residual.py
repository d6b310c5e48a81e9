import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_video.layers import DepthwiseConv3D, ResidualBlock3D
from keras_video.layers.residual import r2plus1d_width


def _build(block, shape=(2, 4, 8, 8, 16)):
    y = block(np.zeros(shape, "float32"))
    return y, [u.name for u in block.main]


@pytest.mark.parametrize("middle,units", [
    ("full", ["conv1", "conv2", "conv3"]),
    ("ir", ["conv1", "conv2_depthwise", "conv3"]),
    ("ip", ["conv1", "conv2_pointwise", "conv2_depthwise", "conv3"]),
])
def test_bottleneck_middles(middle, units):
    block = ResidualBlock3D(8, middle, strides=(2, 2, 2))
    y, names = _build(block)
    assert y.shape == (2, 2, 4, 4, 32) and names == units
    assert block.shortcut is not None and block.shortcut.strides == (2, 2, 2)
    depthwise = [u for u in block.main if isinstance(u.conv, DepthwiseConv3D)]
    assert len(depthwise) == (0 if middle == "full" else 1)
    if middle == "ip":
        assert block.main[1].activation is keras.activations.linear  # BN, no ReLU
    assert np.all(y.numpy() >= 0)


def test_basic_blocks_of_r3d_mc3_and_r2plus1d():
    r3d, names = _build(ResidualBlock3D(16, "full", bottleneck=False))
    assert names == ["conv1", "conv2"] and r3d.shape == (2, 4, 8, 8, 16)
    mc3 = ResidualBlock3D(32, "2d", strides=(2, 2, 2), bottleneck=False)
    y, _ = _build(mc3)
    assert y.shape == (2, 4, 4, 4, 32) and mc3.shortcut.strides == (1, 2, 2)
    r21 = ResidualBlock3D(32, "2plus1d", strides=(2, 2, 2), bottleneck=False)
    y, names = _build(r21)
    assert y.shape == (2, 2, 4, 4, 32)
    assert names == ["conv1_spatial", "conv1_temporal", "conv2_spatial", "conv2_temporal"]
    assert r21.main[0].filters == r2plus1d_width(16, 32) == (16 * 32 * 27) // (16 * 9 + 96)
    identity = ResidualBlock3D(16, "full", bottleneck=False)
    _build(identity)
    assert identity.shortcut is None
    with pytest.raises(ValueError, match="depthwise"):
        _build(ResidualBlock3D(32, "ir", bottleneck=False))
    with pytest.raises(ValueError, match="middle"):
        ResidualBlock3D(8, "3x3")


@pytest.mark.parametrize("middle", ["ip", "2plus1d"])
def test_residual_block_gradients_and_save_load(middle, tmp_path, rng):
    inputs = keras.Input((4, 8, 8, 16))
    block = ResidualBlock3D(8, middle, strides=(1, 2, 2), bottleneck=middle != "2plus1d",
                            padding="symmetric", bn_epsilon=1e-3)
    model = keras.Model(inputs, block(inputs))
    x = tf.constant(rng.normal(size=(2, 4, 8, 8, 16)), tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) ** 2)
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)
    model.save(tmp_path / "r.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "r.keras")(x), model(x),
                               atol=1e-5)
