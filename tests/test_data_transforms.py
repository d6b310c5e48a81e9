import numpy as np
import pytest
import tensorflow as tf

from keras_video.data import transforms as T

SHAPE = (8, 32, 40, 3)


def coded_clip(frames=8, height=32, width=40, dtype=tf.uint8):
    """Channel 0 = row, channel 1 = column, channel 2 = 10 * frame: each pixel says where it was."""
    t, y, x = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
    return tf.constant(np.stack([y, x, 10 * t], axis=-1), dtype)


def dynamic(fn, channels=3, dtype=tf.uint8):
    """`fn` traced with unknown T, H and W."""
    return tf.function(fn, input_signature=[tf.TensorSpec([None, None, None, channels], dtype)])


def unknown_shape(clip):
    return tf.compat.v1.placeholder_with_default(clip, [None, None, None, clip.shape[-1]])


def box_of(out):
    """(top, left, height, width) of the source box from a coded clip's output; checks every
    frame holds the same box and its own frame index."""
    out = np.asarray(out)
    ys, xs = out[..., 0], out[..., 1]
    for t in range(out.shape[0]):
        np.testing.assert_array_equal(ys[t], ys[0])
        np.testing.assert_array_equal(xs[t], xs[0])
        assert np.all(out[t, ..., 2] == 10 * t)
    top, left = int(ys.min()), int(xs.min())
    return top, left, int(ys.max()) - top + 1, int(xs.max()) - left + 1


# ---------------------------------------------------------------------------------------------
# Crops


@pytest.mark.parametrize("size, top, left", [(16, 8, 12), ((15, 21), 9, 10), ((32, 40), 0, 0)])
def test_center_crop_takes_exact_middle(size, top, left):
    clip = coded_clip()
    out = T.center_crop(clip, size)
    h, w = (size, size) if isinstance(size, int) else size
    assert out.shape == (8, h, w, 3) and out.dtype == tf.uint8
    np.testing.assert_array_equal(out, clip[:, top:top + h, left:left + w])


def test_center_crop_dynamic_shape():
    fn = dynamic(lambda x: T.center_crop(x, (15, 21)))
    assert fn.get_concrete_function().structured_outputs.shape.as_list() == [None, 15, 21, 3]
    clip = coded_clip(5, 30, 33)
    np.testing.assert_array_equal(fn(clip), clip[:, 8:23, 6:27])


def test_random_crop_same_box_in_every_frame_and_all_offsets_reachable():
    clip = coded_clip(4, 6, 7)
    seen = set()
    for seed in range(60):
        out = T.random_crop(clip, (4, 4), seed=seed)
        assert out.shape == (4, 4, 4, 3) and out.dtype == tf.uint8
        top, left, h, w = box_of(out)
        assert (h, w) == (4, 4)
        np.testing.assert_array_equal(out, clip[:, top:top + 4, left:left + 4])
        seen.add((top, left))
    assert seen == {(i, j) for i in range(3) for j in range(4)}


def test_random_crop_seeded_reproducible_and_seed_dependent():
    clip = coded_clip()
    a = T.random_crop(clip, 16, seed=3)
    np.testing.assert_array_equal(a, T.random_crop(clip, 16, seed=3))
    np.testing.assert_array_equal(a, T.random_crop(clip, 16, seed=tf.constant([0, 3])))
    boxes = {box_of(T.random_crop(clip, 16, seed=s))[:2] for s in range(8)}
    assert len(boxes) > 1


def test_random_crop_dynamic_shape_and_float():
    fn = dynamic(lambda x: T.random_crop(x, (10, 12), seed=(1, 2)), dtype=tf.float32)
    assert fn.get_concrete_function().structured_outputs.shape.as_list() == [None, 10, 12, 3]
    clip = coded_clip(dtype=tf.float32)
    out = fn(clip)
    assert out.dtype == tf.float32
    np.testing.assert_array_equal(out, T.random_crop(clip, (10, 12), seed=(1, 2)))
    top, left, _, _ = box_of(out)
    np.testing.assert_array_equal(out, clip[:, top:top + 10, left:left + 12])


@pytest.mark.parametrize("op", [
    lambda x: T.random_crop(x, (33, 8)),
    lambda x: T.random_crop(x, (8, 41)),
    lambda x: T.center_crop(x, 33),
    lambda x: T.three_crop(x, 33),
])
def test_crop_larger_than_clip_raises(op):
    clip = coded_clip()
    with pytest.raises(tf.errors.InvalidArgumentError, match="smaller than the crop"):
        op(clip)
    with pytest.raises(tf.errors.InvalidArgumentError, match="smaller than the crop"):
        dynamic(op)(clip)


@pytest.mark.parametrize("shape, starts, axis", [
    ((8, 32, 40, 3), [0, 4, 8], "x"),   # landscape: crops along the width
    ((8, 40, 32, 3), [0, 4, 8], "y"),   # portrait: along the height
    ((8, 32, 41, 3), [0, 5, 9], "x"),   # odd remainder: centre rounds up
    ((8, 34, 40, 3), [0, 4, 8], "x"),   # short side larger than size: centred (offset 1)
])
def test_three_crop_offsets(shape, starts, axis):
    clip = coded_clip(*shape[:3])
    out = T.three_crop(clip, 32)
    assert out.shape == (3, 8, 32, 32, 3) and out.dtype == tf.uint8
    out_dyn = dynamic(lambda x: T.three_crop(x, 32))(clip)
    np.testing.assert_array_equal(out_dyn, out)
    short_offset = (min(shape[1:3]) - 32 + 1) // 2
    for view, start in zip(out, starts):
        top, left, h, w = box_of(view)
        assert (h, w) == (32, 32)
        assert (top, left) == ((start, short_offset) if axis == "y" else (short_offset, start))
    np.testing.assert_array_equal(out[1], T.center_crop(clip, 32))


def test_three_crop_static_shape_with_unknown_dims():
    fn = dynamic(lambda x: T.three_crop(x, 16))
    assert fn.get_concrete_function().structured_outputs.shape.as_list() == [3, None, 16, 16, 3]


# ---------------------------------------------------------------------------------------------
# Scaling


@pytest.mark.parametrize("shape, size, expected", [
    ((2, 32, 40, 3), 16, (16, 20)),
    ((2, 40, 32, 3), 16, (20, 16)),
    ((2, 32, 41, 3), 16, (16, 21)),   # 20.5 rounds half up
    ((2, 30, 31, 3), 20, (20, 21)),   # 20.67 rounds to 21
    ((2, 24, 24, 3), 32, (32, 32)),
])
def test_short_side_scale_shapes(shape, size, expected):
    clip = tf.fill(shape, tf.constant(200, tf.uint8))
    out = T.short_side_scale(clip, size)
    assert out.shape == (shape[0], *expected, 3) and out.dtype == tf.uint8
    np.testing.assert_array_equal(out, 200)  # a constant stays exactly constant
    out_dyn = dynamic(lambda x: T.short_side_scale(x, size))(clip)
    assert out_dyn.shape == out.shape and out_dyn.dtype == tf.uint8


def test_short_side_scale_float_and_uint8_agree_with_rounding_and_clipping():
    rng = np.random.default_rng(0)
    edges = (rng.random((2, 8, 10, 3)) > 0.5) * 255  # hard edges: bicubic overshoots [0, 255]
    as_float = T.short_side_scale(tf.constant(edges, tf.float32), 16, method="bicubic")
    as_uint8 = T.short_side_scale(tf.constant(edges, tf.uint8), 16, method="bicubic")
    assert as_float.dtype == tf.float32 and as_uint8.dtype == tf.uint8
    assert as_float.numpy().max() > 255.5 and as_float.numpy().min() < -0.5
    np.testing.assert_array_equal(as_uint8, np.clip(np.round(as_float.numpy()), 0, 255))


def test_random_short_side_scale_covers_range_and_is_reproducible():
    clip = tf.zeros((2, 24, 32, 3), tf.uint8)
    shorts = {T.random_short_side_scale(clip, 16, 18, seed=s).shape[1] for s in range(30)}
    assert shorts == {16, 17, 18}
    a = T.random_short_side_scale(clip, 16, 24, seed=5)
    assert a.shape[2] == round(a.shape[1] * 32 / 24)
    assert T.random_short_side_scale(clip, 16, 24, seed=5).shape == a.shape
    with pytest.raises(ValueError):
        T.random_short_side_scale(clip, 20, 16)


# ---------------------------------------------------------------------------------------------
# Random resized crop


def test_random_resized_crop_box_within_bounds():
    height, width = 32, 40
    clip = coded_clip(4, height, width, tf.float32)
    scale, ratio = (0.3, 0.5), (0.8, 1.25)
    areas = set()
    for seed in range(20):
        out = T.random_resized_crop(clip, (height, width), scale=scale, ratio=ratio, seed=seed,
                                    method="nearest", antialias=False)
        assert out.shape == (4, height, width, 3) and out.dtype == tf.float32
        top, left, h, w = box_of(out)
        assert 0 <= top and top + h <= height and 0 <= left and left + w <= width
        # h, w are the true (real-valued) sizes rounded to integers.
        assert (h + 0.5) * (w + 0.5) >= scale[0] * height * width
        assert (h - 0.5) * (w - 0.5) <= scale[1] * height * width
        assert (w + 0.5) / (h - 0.5) >= ratio[0] and (w - 0.5) / (h + 0.5) <= ratio[1]
        areas.add(h * w)
    assert len(areas) > 5


def test_random_resized_crop_fallback_is_centered_clamped_crop():
    clip = coded_clip(2, 10, 40, tf.float32)  # ratio 4: no square box of >= 90% area fits
    out = T.random_resized_crop(clip, 10, scale=(0.9, 1.0), ratio=(1.0, 1.0), seed=0,
                                method="nearest", antialias=False)
    assert box_of(out) == (0, 15, 10, 10)


def test_random_resized_crop_dtypes_shapes_and_seeds():
    clip = coded_clip()
    out = T.random_resized_crop(clip, 16, seed=7)
    assert out.shape == (8, 16, 16, 3) and out.dtype == tf.uint8
    np.testing.assert_array_equal(out, T.random_resized_crop(clip, 16, seed=7))
    fn = dynamic(lambda x: T.random_resized_crop(x, (12, 16), seed=7))
    assert fn.get_concrete_function().structured_outputs.shape.as_list() == [None, 12, 16, 3]
    np.testing.assert_array_equal(fn(clip), T.random_resized_crop(clip, (12, 16), seed=7))
    outs = [T.random_resized_crop(clip, 16, seed=s).numpy() for s in range(4)]
    assert any(not np.array_equal(outs[0], o) for o in outs[1:])


# ---------------------------------------------------------------------------------------------
# Flip, normalize


def test_random_flip_is_exact_mirror_of_whole_clip():
    clip = coded_clip()
    mirrored = clip.numpy()[:, :, ::-1]
    flips = []
    for seed in range(12):
        out = T.random_flip(clip, seed=seed).numpy()
        assert out.dtype == np.uint8 and out.shape == SHAPE
        flipped = np.array_equal(out, mirrored)
        assert flipped or np.array_equal(out, clip.numpy())
        flips.append(flipped)
    assert any(flips) and not all(flips)
    np.testing.assert_array_equal(T.random_flip(clip, seed=4), T.random_flip(clip, seed=4))


def test_random_flip_disabled_is_identity():
    clip = coded_clip()
    for seed in [None, *range(8)]:
        np.testing.assert_array_equal(T.random_flip(clip, enabled=False, seed=seed), clip)


def test_normalize_values_and_dtype():
    clip = tf.constant([[[[0, 255, 51]]]], tf.uint8)
    mean, std = (0.5, 0.25, 0.2), (0.5, 0.25, 0.1)
    out = T.normalize(clip, mean, std)
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy().ravel(), [-1.0, 3.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(T.normalize(tf.cast(clip, tf.float32), 0.5, 0.5).numpy().ravel(),
                               [-1.0, 1.0, -0.6], atol=1e-6)
    with pytest.raises(ValueError):
        T.normalize(clip, mean, (0.5, 0.0, 0.1))


# ---------------------------------------------------------------------------------------------
# MixUp, CutMix


def batch_for_mixing(batch=6, gradient=True):
    """Clip b = 50 * b (+ a gradient shared by all clips), label one_hot(b)."""
    values = 50.0 * np.arange(batch)
    grad = np.arange(4 * 8 * 10 * 3, dtype=np.float64).reshape(4, 8, 10, 3) % 7 if gradient else 0
    clips = values[:, None, None, None, None] + grad + np.zeros((batch, 4, 8, 10, 3))
    return tf.constant(clips, tf.float32), tf.one_hot(np.arange(batch), batch), values, grad


def test_mixup_pixels_match_label_weights():
    clips, labels, values, grad = batch_for_mixing()
    partial = False
    for seed in range(3):
        out, mixed = T.mixup(clips, labels, alpha=0.8, seed=seed)
        assert out.shape == clips.shape and out.dtype == tf.float32 and mixed.dtype == tf.float32
        mixed = mixed.numpy()
        np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-6)
        expected = (mixed @ values)[:, None, None, None, None] + grad
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-3)
        partial |= bool((mixed.max(axis=1) < 0.99).any())
    assert partial
    a = T.mixup(clips, labels, seed=9)
    b = T.mixup(clips, labels, seed=9)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_mixup_uint8_clips_become_float32():
    clips = tf.zeros((2, 2, 4, 4, 3), tf.uint8)
    out, labels = T.mixup(clips, tf.one_hot([0, 1], 2), seed=1)
    assert out.dtype == tf.float32 and labels.dtype == tf.float32


def test_cutmix_box_shared_by_frames_and_area_matches_labels():
    clips, labels, values, _ = batch_for_mixing(gradient=False)
    boxes = 0
    for seed in range(4):
        out, mixed = T.cutmix(clips, labels, alpha=1.0, seed=seed)
        assert out.shape == clips.shape and out.dtype == tf.float32
        out, mixed = out.numpy(), mixed.numpy()
        np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-6)
        for b in range(len(values)):
            source = np.rint(out[b] / 50).astype(int)  # which clip each pixel came from
            assert np.all(source == source[:1, :, :, :1])  # same box in every frame and channel
            fraction = np.bincount(source.ravel(), minlength=len(values)) / source.size
            np.testing.assert_allclose(fraction, mixed[b], atol=1e-6)
            pasted = source[0, :, :, 0] != b
            if pasted.any():
                boxes += 1
                rows, cols = np.nonzero(pasted)
                box = np.zeros_like(pasted)
                box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
                np.testing.assert_array_equal(pasted, box)  # a rectangle
    assert boxes > 3
    a = T.cutmix(clips, labels, seed=9)
    np.testing.assert_array_equal(a[0], T.cutmix(clips, labels, seed=9)[0])


# ---------------------------------------------------------------------------------------------
# tf.data


CLIP_OPS = {
    "short_side_scale": lambda x, s: T.short_side_scale(x, 16),
    "random_short_side_scale": lambda x, s: T.random_short_side_scale(x, 16, 24, seed=s),
    "random_crop": lambda x, s: T.random_crop(x, 16, seed=s),
    "center_crop": lambda x, s: T.center_crop(x, 16),
    "three_crop": lambda x, s: T.three_crop(x, 32),
    "random_resized_crop": lambda x, s: T.random_resized_crop(x, 16, seed=s),
    "random_flip": lambda x, s: T.random_flip(x, seed=s),
    "normalize": lambda x, s: T.normalize(x, (0.45,) * 3, (0.225,) * 3),
}
RANDOM_OPS = ["random_short_side_scale", "random_crop", "random_resized_crop", "random_flip"]


@pytest.mark.parametrize("name", sorted(CLIP_OPS))
def test_runs_in_tf_data_map_with_unknown_shapes(name):
    clip = coded_clip()
    ds = tf.data.Dataset.from_tensors(clip).repeat(2).map(unknown_shape)
    assert ds.element_spec.shape.as_list() == [None, None, None, 3]
    outs = list(ds.map(lambda x: CLIP_OPS[name](x, (4, 2)), num_parallel_calls=2))
    np.testing.assert_array_equal(outs[0], CLIP_OPS[name](clip, (4, 2)))
    np.testing.assert_array_equal(outs[1], outs[0])  # seeded: same every call


@pytest.mark.parametrize("name", RANDOM_OPS)
def test_unseeded_varies_across_elements_and_epochs_in_tf_data(name):
    # conftest sets a global seed, under which plain stateful ops repeat every epoch.
    ds = tf.data.Dataset.from_tensors(coded_clip()).repeat(16)
    ds = ds.map(lambda x: CLIP_OPS[name](x, None))  # 16: a flip repeats 16 times w.p. 2**-15
    epoch1 = [o.numpy() for o in ds]
    epoch2 = [o.numpy() for o in ds]
    same = lambda a, b: a.shape == b.shape and np.array_equal(a, b)  # noqa: E731
    assert not all(same(epoch1[0], o) for o in epoch1[1:])
    assert not all(same(a, b) for a, b in zip(epoch1, epoch2))


@pytest.mark.parametrize("op", [T.mixup, T.cutmix])
def test_mixing_in_batched_tf_data(op):
    clips, labels, _, _ = batch_for_mixing(batch=6, gradient=False)
    ds = tf.data.Dataset.from_tensor_slices((tf.cast(clips, tf.uint8), labels)).repeat(3).batch(6)
    # A clip may draw itself as partner (identity permutation: labels unchanged), so compare 3.
    unseeded = [o[1].numpy() for o in ds.map(lambda x, y: op(x, y))]
    assert not (np.array_equal(unseeded[0], unseeded[1])
                and np.array_equal(unseeded[0], unseeded[2]))
    seeded = [o for o in ds.map(lambda x, y: op(x, y, seed=(1, 1)))]
    expected = op(clips, labels, seed=(1, 1))
    for out, mixed in seeded:
        assert out.dtype == tf.float32 and out.shape == (6, 4, 8, 10, 3)
        np.testing.assert_allclose(out, expected[0], atol=1e-4)
        np.testing.assert_allclose(mixed, expected[1], atol=1e-6)
