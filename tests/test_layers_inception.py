import keras
import numpy as np
import pytest

from keras_video.layers import InceptionBlock3D, MaxPooling3D, SelfGating, SepConv3D, Unit3D

WIDTHS = (4, 3, 5, 2, 6, 7)


def test_inception_block_concatenates_branches():
    block = InceptionBlock3D(WIDTHS)
    y = block(np.zeros((2, 4, 6, 6, 8), "float32"))
    assert y.shape == (2, 4, 6, 6, 4 + 5 + 6 + 7)
    assert block.compute_output_shape((2, 4, 6, 6, 8)) == (2, 4, 6, 6, 22)
    with pytest.raises(ValueError, match="6 widths"):
        InceptionBlock3D((1, 2, 3))


@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("t", [1, 3])
def test_temporal_kernel_switch(separable, t):
    block = InceptionBlock3D(WIDTHS, temporal_kernel_size=t, separable=separable)
    block.build((None, 4, 6, 6, 8))
    conv = block.branch_1[1]
    kernels = sorted(tuple(w.shape[:3]) for w in conv.weights if w.name == "kernel")
    if separable and t == 3:
        assert isinstance(conv, SepConv3D) and kernels == [(1, 3, 3), (3, 1, 1)]
    else:
        assert kernels == [(t, 3, 3)]


def test_gating_switch_puts_one_gate_at_the_end_of_each_branch():
    plain = InceptionBlock3D(WIDTHS)
    gated = InceptionBlock3D(WIDTHS, gating=True)
    for block in (plain, gated):
        block.build((None, 4, 6, 6, 8))
    assert not any(isinstance(layer, SelfGating) for b in plain.branches for layer in b)
    for branch in gated.branches:
        assert isinstance(branch[-1], SelfGating)
        assert sum(isinstance(layer, SelfGating) for layer in branch) == 1


def test_pool_branch_depth_and_padding():
    block = InceptionBlock3D(WIDTHS, temporal_pool_size=1, padding="symmetric")
    pool = block.branch_3[0]
    assert isinstance(pool, MaxPooling3D) and pool.pool_size == (1, 3, 3)
    assert isinstance(block.branch_0[0], Unit3D)


def test_symmetric_max_pool_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(1, 7, 10, 9, 2)).astype("float32")
    for size, strides in [((3, 3, 3), (2, 2, 2)), ((1, 3, 3), (1, 2, 2)), ((3, 3, 3), (1, 1, 1))]:
        y = MaxPooling3D(size, strides, padding="symmetric")(x)
        ref = torch.nn.functional.max_pool3d(torch.from_numpy(x.transpose(0, 4, 1, 2, 3)),
                                             size, strides, tuple(s // 2 for s in size))
        np.testing.assert_allclose(y, ref.numpy().transpose(0, 2, 3, 4, 1))


@pytest.mark.parametrize("kwargs", [dict(separable=True, gating=True, padding="symmetric"),
                                    dict(temporal_kernel_size=1, bn_scale=False)])
def test_inception_block_save_and_load(kwargs, tmp_path, rng):
    inputs = keras.Input((4, 6, 6, 8))
    model = keras.Model(inputs, InceptionBlock3D(WIDTHS, name="Mixed", **kwargs)(inputs))
    x = rng.normal(size=(2, 4, 6, 6, 8)).astype("float32")
    model.save(tmp_path / "b.keras")
    restored = keras.saving.load_model(tmp_path / "b.keras")
    np.testing.assert_allclose(restored(x), model(x), atol=1e-6)


def test_every_weight_of_a_gated_separable_block_gets_a_gradient(rng):
    import tensorflow as tf
    block = InceptionBlock3D(WIDTHS, separable=True, gating=True)
    x = tf.constant(rng.normal(size=(2, 4, 6, 6, 8)), tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(block(x, training=True) ** 2)
    grads = tape.gradient(loss, block.trainable_weights)
    assert len(grads) == len(block.trainable_weights) > 0
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)
