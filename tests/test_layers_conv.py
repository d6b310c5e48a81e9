import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_video.layers import Conv3D, SepConv3D, Unit3D, forms


def _pair(kernel, strides, padding="same", dilation=(1, 1, 1), filters=5):
    fast = Conv3D(filters, kernel, strides, padding=padding, dilation_rate=dilation)
    plain = keras.layers.Conv3D(filters, kernel, strides, padding=padding, dilation_rate=dilation)
    return fast, plain


@pytest.mark.parametrize("kernel,strides,padding,dilation", [
    ((1, 3, 3), (1, 1, 1), "same", (1, 1, 1)),
    ((1, 7, 7), (2, 2, 2), "same", (1, 1, 1)),
    ((1, 3, 3), (1, 2, 2), "valid", (1, 1, 1)),
    ((1, 3, 3), (1, 1, 1), "same", (1, 2, 2)),
    ((3, 1, 1), (1, 1, 1), "same", (1, 1, 1)),
    ((7, 1, 1), (2, 1, 1), "same", (1, 1, 1)),
    ((3, 1, 1), (2, 2, 2), "valid", (1, 1, 1)),
    ((3, 1, 1), (1, 1, 1), "same", (2, 1, 1)),
    ((1, 1, 1), (2, 2, 2), "same", (1, 1, 1)),
    ((3, 3, 3), (1, 2, 2), "same", (1, 1, 1)),
    ((3, 3, 3), (2, 2, 2), "same", (1, 1, 1)),
    ((7, 7, 7), (2, 2, 2), "same", (1, 1, 1)),
    ((2, 3, 3), (2, 1, 1), "same", (1, 1, 1)),
    ((3, 3, 3), (1, 1, 1), "valid", (1, 1, 1)),
    ((3, 3, 3), (2, 2, 2), "valid", (1, 1, 1)),
    ((3, 3, 3), (1, 1, 1), "same", (2, 1, 1)),
])
def test_factorized_conv_equals_conv3d_values_and_gradients(kernel, strides, padding, dilation,
                                                            rng):
    fast, plain = _pair(kernel, strides, padding, dilation)
    x = tf.constant(rng.normal(size=(2, 7, 11, 10, 3)), tf.float32)
    fast.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(fast.get_weights())

    def values_and_gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        return y, tape.gradient(loss, [x] + layer.trainable_weights)

    y_fast, gradients_fast = values_and_gradients(fast)
    # The reference runs under XLA: TensorFlow's own Conv3DBackpropFilter (oneDNN, on an
    # AVX-512 CPU) returns garbage for a 7-tap, stride-2 "same" kernel over 7 frames. On that
    # shape ((7, 1, 1), stride (2, 1, 1)) this also shows the zoo's 2D form is right where the
    # 3D op is not (it fails with factorize=False on such a CPU).
    y_plain, gradients_plain = tf.function(values_and_gradients, jit_compile=True)(plain)
    np.testing.assert_allclose(y_fast, y_plain, atol=1e-5)
    for a, b in zip(gradients_fast, gradients_plain):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_factorized_conv_with_unknown_sizes(rng):
    fast, plain = _pair((1, 3, 3), (2, 2, 2))
    temporal, plain_t = _pair((3, 1, 1), (2, 1, 1))
    full, plain_f = _pair((3, 3, 3), (2, 2, 2))
    inputs = keras.Input((None, None, None, 3))
    model = keras.Model(inputs, [full(temporal(fast(inputs))), plain_f(plain_t(plain(inputs)))])
    for a, b in [(fast, plain), (temporal, plain_t), (full, plain_f)]:
        b.set_weights(a.get_weights())
    for shape in [(1, 5, 9, 9, 3), (3, 8, 16, 12, 3), (1, 1, 4, 4, 3)]:
        a, b = model(rng.normal(size=shape).astype("float32"))
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kernel", [(1, 3, 3), (3, 1, 1), (3, 3, 3)])
def test_factorized_conv_uses_2d_ops_and_keeps_3d_kernel_shape(kernel):
    conv = Conv3D(4, kernel)
    conv.build((None, 4, 8, 8, 2))
    assert tuple(conv.kernel.shape) == kernel + (2, 4)
    spec = tf.TensorSpec((1, 4, 8, 8, 2))
    ops = {op.type for op in tf.function(conv).get_concrete_function(spec).graph.get_operations()}
    assert "Conv2D" in ops and "Conv3D" not in ops
    conv3d = Conv3D(4, (1, 3, 3), factorize=False)
    ops = {op.type for op in tf.function(conv3d).get_concrete_function(spec).graph.get_operations()}
    assert "Conv3D" in ops


@pytest.mark.parametrize("kernel,strides", [((1, 7, 7), (1, 2, 2)), ((7, 1, 1), (2, 1, 1)),
                                            ((3, 3, 3), (2, 2, 2)), ((3, 3, 3), (1, 1, 1))])
def test_symmetric_padding_matches_pytorch(kernel, strides, rng):
    torch = pytest.importorskip("torch")
    unit = Unit3D(6, kernel, strides, padding="symmetric", use_batch_norm=False, activation=None)
    x = rng.normal(size=(1, 8, 12, 12, 3)).astype("float32")
    y = unit(x)
    w = torch.from_numpy(np.transpose(unit.conv.kernel.numpy(), (4, 3, 0, 1, 2)).copy())
    ref = torch.nn.functional.conv3d(torch.from_numpy(np.transpose(x, (0, 4, 1, 2, 3)).copy()),
                                     w, stride=strides, padding=tuple(k // 2 for k in kernel))
    np.testing.assert_allclose(y, ref.numpy().transpose(0, 2, 3, 4, 1), atol=1e-4)


def test_unit3d_batch_norm_options_and_shapes():
    unit = Unit3D(8, (3, 3, 3), (1, 2, 2), bn_scale=False)
    y = unit(np.ones((2, 4, 9, 9, 3), "float32"))
    assert y.shape == (2, 4, 5, 5, 8)
    names = sorted(w.name for w in unit.weights)
    assert names == ["beta", "kernel", "moving_mean", "moving_variance"]
    assert np.all(y.numpy() >= 0)  # ReLU
    linear = Unit3D(8, 1, use_batch_norm=False, use_bias=True, activation=None)
    linear(np.ones((1, 2, 3, 3, 3), "float32"))
    assert sorted(w.name for w in linear.weights) == ["bias", "kernel"]
    with pytest.raises(ValueError, match="padding"):
        Unit3D(8, 3, padding="reflect")


def test_unit3d_trains_batch_norm_statistics(rng):
    unit = Unit3D(4, (1, 3, 3), bn_momentum=0.0)
    x = rng.normal(3.0, 2.0, size=(2, 3, 6, 6, 2)).astype("float32")
    unit(x, training=True)
    assert not np.allclose(unit.bn.moving_mean.numpy(), 0.0)


def test_sepconv3d_structure_and_strides():
    sep = SepConv3D(16, (7, 7, 7), (2, 2, 2), padding="symmetric")
    y = sep(np.zeros((1, 8, 32, 32, 3), "float32"))
    assert y.shape == (1, 4, 16, 16, 16)
    assert tuple(sep.spatial.conv.kernel.shape) == (1, 7, 7, 3, 16)
    assert tuple(sep.temporal.conv.kernel.shape) == (7, 1, 1, 16, 16)
    flat = SepConv3D(16, (1, 3, 3), (2, 2, 2))  # 2D: one unit, temporal stride kept
    assert flat.temporal is None
    assert flat(np.zeros((1, 8, 32, 32, 3), "float32")).shape == (1, 4, 16, 16, 16)


@pytest.mark.parametrize("layer", [
    lambda: Unit3D(6, (3, 3, 3), (1, 2, 2), padding="symmetric", bn_scale=False),
    lambda: SepConv3D(6, (3, 3, 3), (2, 2, 2), padding="symmetric", bn_momentum=0.9),
    lambda: SepConv3D(6, (1, 3, 3), kernel_regularizer=keras.regularizers.L2(1e-4)),
])
def test_conv_layers_save_and_load(layer, tmp_path, rng):
    inputs = keras.Input((4, 10, 10, 3))
    model = keras.Model(inputs, layer()(inputs))
    x = rng.normal(size=(2, 4, 10, 10, 3)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(x), model(x), atol=1e-6)
    model.save_weights(tmp_path / "w.weights.h5")
    again = keras.Model(inputs, layer()(inputs))
    again.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(again(x), model(x), atol=1e-6)


def _randomize_batch_norm(unit, rng):
    for weight in unit.bn.weights:
        low = 0.5 if weight.name == "moving_variance" else -1.0
        weight.assign(rng.uniform(low, 2.0, weight.shape).astype("float32"))


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=(1, 3, 3), strides=(1, 2, 2)),
    dict(kernel_size=(3, 1, 1), strides=(2, 1, 1), padding="symmetric"),
    dict(kernel_size=(3, 3, 3), bn_scale=False, use_bias=True),
    dict(kernel_size=(3, 3, 3), strides=(2, 2, 2), activation=None, factorize=False),
    dict(kernel_size=(3, 3, 3), depthwise=True),
])
def test_unit3d_inference_folds_batch_norm_into_the_conv(kwargs, rng):
    """In inference the unit is one conv with BatchNorm folded into kernel and bias: the
    function of conv, BatchNorm and activation run one after another."""
    filters = 4
    unit = Unit3D(filters, **kwargs)
    x = rng.normal(size=(2, 5, 9, 8, filters)).astype("float32")
    unit(x)
    _randomize_batch_norm(unit, rng)
    if unit.conv.use_bias:
        unit.conv.bias.assign(rng.normal(size=filters).astype("float32"))
    y = x if unit.pad is None else unit.pad(x)
    expected = unit.activation(unit.bn(unit.conv(y), training=False))
    np.testing.assert_allclose(unit(x), expected, atol=1e-5)
    np.testing.assert_allclose(unit(x, training=False), expected, atol=1e-5)


def test_unit3d_folds_in_float32_inference_only(rng, monkeypatch):
    """Training normalises with the batch statistics, and half precision keeps BatchNorm's
    float32 arithmetic: neither takes the folded path."""
    def folded(self, x):
        raise AssertionError("folded")

    monkeypatch.setattr(Unit3D, "_folded", folded)
    x = rng.normal(3.0, 2.0, size=(2, 3, 6, 6, 4)).astype("float32")
    unit = Unit3D(4, (1, 3, 3))
    unit(x, training=True)
    Unit3D(4, (1, 3, 3), dtype="mixed_bfloat16")(x)
    with pytest.raises(AssertionError, match="folded"):
        unit(x)


@pytest.mark.parametrize("kernel,strides", [((1, 3, 3), (1, 1, 1)), ((3, 1, 1), (2, 1, 1)),
                                            ((3, 3, 3), (2, 2, 2))])
def test_conv3d_pads_are_zeros_around_the_valid_conv(kernel, strides, rng):
    """`pads` on any axis, also those "symmetric" padding leaves at zero, in every form."""
    pads = ((1, 2), (0, 1), (2, 0))
    x = rng.normal(size=(2, 6, 9, 8, 3)).astype("float32")
    conv = Conv3D(4, kernel, strides, pads=pads, bias_initializer="random_normal")
    conv.build(x.shape)
    reference = Conv3D(4, kernel, strides, factorize=False)
    reference.build((2, 9, 10, 10, 3))
    reference.kernel.assign(conv.kernel)
    reference.bias.assign(conv.bias)
    expected = reference(np.pad(x, ((0, 0),) + pads + ((0, 0),)))
    np.testing.assert_allclose(conv(x), expected, atol=1e-5)
    assert conv.compute_output_shape(x.shape) == tuple(expected.shape)
    with forms.native_3d():
        np.testing.assert_allclose(conv(x), expected, atol=1e-5)
    assert Conv3D.from_config(conv.get_config()).pads == pads
    with pytest.raises(ValueError, match="pads go with padding='valid'"):
        Conv3D(4, kernel, pads=pads, padding="same")
