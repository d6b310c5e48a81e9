import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_video.layers import DepthwiseConv3D

from export_helpers import assert_exports_match


def _pair(kernel, strides, padding, dilation, multiplier, implementation, channels=6):
    depthwise = DepthwiseConv3D(kernel, strides, padding, dilation, multiplier, use_bias=True,
                                bias_initializer="random_normal", implementation=implementation)
    grouped = keras.layers.Conv3D(channels * multiplier, kernel, strides, padding=padding,
                                  dilation_rate=dilation, groups=channels, use_bias=True)
    return depthwise, grouped


@pytest.mark.parametrize("implementation", ["depthwise2d", "shifts"])
@pytest.mark.parametrize("kernel,strides,padding,dilation,multiplier", [
    ((3, 3, 3), (1, 1, 1), "same", (1, 1, 1), 1),
    ((3, 3, 3), (2, 2, 2), "same", (1, 1, 1), 1),
    ((3, 3, 3), (2, 1, 1), "same", (1, 1, 1), 1),
    ((3, 3, 3), (1, 2, 2), "valid", (1, 1, 1), 2),
    ((3, 3, 3), (1, 1, 1), "same", (2, 2, 2), 1),
    ((5, 3, 3), (1, 1, 1), "valid", (1, 1, 1), 1),
    ((1, 3, 3), (1, 1, 1), "same", (1, 1, 1), 3),
    ((3, 1, 1), (2, 1, 1), "same", (1, 1, 1), 1),
])
def test_equals_grouped_conv3d_values_and_gradients(kernel, strides, padding, dilation,
                                                    multiplier, implementation, rng):
    depthwise, grouped = _pair(kernel, strides, padding, dilation, multiplier, implementation)
    x = tf.constant(rng.normal(size=(2, 7, 11, 10, 6)), tf.float32)
    depthwise.build(x.shape)
    grouped.build(x.shape)
    # Grouped kernel (kt, kh, kw, 1, C * M): output channel c * M + m reads input channel c.
    grouped.kernel.assign(tf.reshape(depthwise.kernel, kernel + (1, 6 * multiplier)))
    grouped.bias.assign(depthwise.bias)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, b = depthwise(x), grouped(x)
        loss_a, loss_b = tf.reduce_sum(a * a), tf.reduce_sum(b * b)
    assert a.shape == b.shape == depthwise.compute_output_shape(x.shape)
    np.testing.assert_allclose(a, b, atol=1e-5)
    ga = tape.gradient(loss_a, [x, depthwise.kernel, depthwise.bias])
    gb = tape.gradient(loss_b, [x, grouped.kernel, grouped.bias])
    np.testing.assert_allclose(ga[0], gb[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tf.reshape(ga[1], gb[1].shape), gb[1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ga[2], gb[2], rtol=1e-4, atol=1e-4)


def test_auto_implementation_follows_xla(rng):
    layer = DepthwiseConv3D(3, strides=(1, 2, 2), depth_multiplier=2)
    x = tf.constant(rng.normal(size=(1, 5, 9, 8, 3)), tf.float32)
    layer.build(x.shape)
    spec = tf.TensorSpec(x.shape)
    graph_ops = {op.type for op in tf.function(layer).get_concrete_function(spec).graph
                 .get_operations()}
    assert "DepthwiseConv2dNative" in graph_ops
    xla = tf.function(layer, jit_compile=True)
    xla_ops = {op.type for op in xla.get_concrete_function(spec).graph.get_operations()}
    assert "DepthwiseConv2dNative" not in xla_ops
    np.testing.assert_allclose(xla(x), layer(x), atol=1e-5)


def test_unknown_sizes_and_training(rng):
    inputs = keras.Input((None, None, None, 4))
    model = keras.Model(inputs, DepthwiseConv3D(3, strides=2)(inputs))
    for shape in [(1, 5, 9, 9, 4), (2, 8, 6, 4, 4), (1, 1, 3, 3, 4)]:
        assert model(rng.normal(size=shape).astype("float32")).shape == \
            (shape[0],) + tuple((n + 1) // 2 for n in shape[1:4]) + (4,)
    model.compile("sgd", "mse")
    x = rng.normal(size=(4, 4, 6, 6, 4)).astype("float32")
    before = model.get_weights()[0].copy()
    model.fit(x, np.zeros((4, 2, 3, 3, 4), "float32"), epochs=1, verbose=0)
    assert not np.allclose(model.get_weights()[0], before)


def test_errors_and_serialization(tmp_path, rng):
    with pytest.raises(ValueError, match="padding"):
        DepthwiseConv3D(3, padding="causal")
    with pytest.raises(ValueError, match="implementation"):
        DepthwiseConv3D(3, implementation="fft")
    with pytest.raises(ValueError, match="cannot be combined"):
        DepthwiseConv3D(3, strides=2, dilation_rate=2)
    inputs = keras.Input((4, 6, 6, 3))
    model = keras.Model(inputs, DepthwiseConv3D((3, 3, 3), depth_multiplier=2,
                                                use_bias=True)(inputs))
    model.save(tmp_path / "d.keras")
    x = rng.normal(size=(1, 4, 6, 6, 3)).astype("float32")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "d.keras")(x), model(x),
                               atol=1e-6)


def test_converts_to_tflite_builtins_and_onnx(tmp_path, rng):
    inputs = keras.Input((6, 10, 10, 8))
    x = DepthwiseConv3D(3, strides=(2, 2, 2), use_bias=True)(inputs)
    model = keras.Model(inputs, DepthwiseConv3D((3, 3, 3), padding="valid")(x))
    ops = assert_exports_match(model, rng.normal(size=(2, 6, 10, 10, 8)).astype("float32"),
                               tmp_path, tolerance=1e-4)
    assert "DEPTHWISE_CONV_2D" in ops and "CONV_3D" not in ops
