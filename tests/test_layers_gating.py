import keras
import numpy as np
import tensorflow as tf

from keras_video.layers import SelfGating


def test_self_gating_formula(rng):
    gating = SelfGating()
    x = rng.normal(size=(2, 3, 4, 5, 6)).astype("float32")
    y = gating(x).numpy()
    w, b = gating.transform.kernel.numpy(), gating.transform.bias.numpy()
    gate = 1 / (1 + np.exp(-(x.mean(axis=(1, 2, 3)) @ w + b)))
    np.testing.assert_allclose(y, x * gate[:, None, None, None, :], rtol=1e-5, atol=1e-6)


def test_self_gating_can_start_as_identity(rng):
    gating = SelfGating()
    x = tf.constant(rng.normal(size=(2, 3, 4, 5, 6)), tf.float32)
    gating.build(x.shape)
    gating.transform.kernel.assign(np.zeros((6, 6), "float32"))
    gating.transform.bias.assign(np.full(6, 30.0, "float32"))
    np.testing.assert_array_equal(gating(x), x)  # sigmoid(30) rounds to 1 in float32
    without_bias = SelfGating(use_bias=False)
    without_bias(x)
    assert [w.name for w in without_bias.weights] == ["kernel"]  # TF-slim's form


def test_self_gating_gradients_reach_kernel(rng):
    gating = SelfGating()
    x = tf.constant(rng.normal(size=(2, 3, 4, 5, 6)), tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(gating(x) ** 2)
    grads = tape.gradient(loss, gating.trainable_weights)
    assert all(float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_self_gating_save_and_load(tmp_path, rng):
    inputs = keras.Input((None, None, None, 6))
    model = keras.Model(inputs, SelfGating(name="gate")(inputs))
    x = rng.normal(size=(1, 2, 3, 3, 6)).astype("float32")
    model.save(tmp_path / "g.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "g.keras")(x), model(x),
                               atol=1e-6)
