"""Video clip augmentations as TensorFlow ops, for use inside a `tf.data` graph (`dataset.map`).

A clip is a tensor `(T, H, W, C)`; `T`, `H` and `W` may be unknown when the map function is traced.
Every op is made of TensorFlow ops only (no numpy, no `tf.py_function`), so it runs in a `tf.data`
map, in a `tf.function` and eagerly. `tf.image` ops take a batch of images, and a clip is treated as
one: each random transform draws ONE geometry per clip (one crop box, one flip decision, one scale)
and applies it to every frame.

Dtypes. Geometric ops (`short_side_scale`, `random_short_side_scale`, `random_crop`, `center_crop`,
`three_crop`, `random_resized_crop`, `random_flip`) return the dtype they were given. Crops and
flips only move pixels, so values are exact. Resizing computes in float32 (as `tf.image.resize`
does); for integer clips (uint8) the result is rounded to nearest and clipped to the dtype's range
(`tf.saturate_cast`) before the cast back, so a pipeline can carry compact uint8 clips until the
model; float clips are cast back unclipped (bicubic/lanczos may overshoot [0, 255] slightly).
`normalize` returns float32; `mixup`/`cutmix` return float clips (float32 unless the clips already
had a float dtype) and float32 labels.

Randomness. Random ops take `seed`:
  * `None` (default): fresh randomness on every call, including every element and every epoch of a
    `tf.data` map. The per-call seed is drawn from `tf.random.get_global_generator()` (a stateful
    `tf.random.Generator`). A plain stateful op (`tf.random.uniform`, `tf.image.random_*`) would
    repeat the same sequence every epoch as soon as a global seed is set
    (`keras.utils.set_random_seed`), because each epoch's iterator restarts the op's sequence.
    Runs are not reproducible from the global seed; set one with
    `tf.random.set_global_generator(tf.random.Generator.from_seed(s))` before building the
    pipeline, or pass explicit seeds.
  * an int, a pair of ints, or an int tensor of shape `()` or `(2,)`: the op is a pure
    (stateless) function of its inputs and seed, so the same seed gives the same result. To get
    reproducible yet varying augmentations in a dataset, pass a per-element seed, e.g.
    `seeds = tf.data.Dataset.random(seed=1, rerandomize_each_iteration=True).batch(2)`,
    `ds = tf.data.Dataset.zip(ds, seeds)` and
    `ds.map(lambda clip, seed: random_crop(clip, 224, seed=seed))`, or use
    `ds.enumerate()` and `seed=(base, index)`. Pass different seeds to different random ops
    (a shared seed correlates them).

Conventions. Centre offsets are `ceil((H - h) / 2)`, as in pytorchvideo/SlowFast `uniform_crop`,
so `center_crop(x, s)` equals the middle view of `three_crop(x, s)`. `short_side_scale` rounds the
long side half up. `random_resized_crop` samples the box like torchvision's `RandomResizedCrop`
(area uniform in `scale`, log aspect ratio (width / height) uniform in `ratio`, 10 attempts, then a
centre crop with the ratio clamped).
"""
import math

import tensorflow as tf

__all__ = [
    "short_side_scale",
    "random_short_side_scale",
    "random_crop",
    "center_crop",
    "three_crop",
    "random_resized_crop",
    "random_flip",
    "normalize",
    "mixup",
    "cutmix",
]

_INT32_MAX = 2**31 - 1


# ----------------------------------------------------------------------------------------------
# Helpers


def _as_clip(clip, name="clip", rank=4):
    clip = tf.convert_to_tensor(clip, name=name)
    ndims = clip.shape.rank
    if ndims is not None and ndims != rank:
        layout = "(T, H, W, C)" if rank == 4 else "(B, T, H, W, C)"
        raise ValueError(f"{name} must have rank {rank} {layout}, got shape {clip.shape}")
    if ndims is None:
        clip = tf.ensure_shape(clip, [None] * rank)
    return clip


def _make_seed(seed):
    """A `(2,)` int64 seed for the stateless ops: fresh per call when `seed` is None."""
    if seed is None:
        return tf.random.get_global_generator().make_seeds(1)[:, 0]
    if isinstance(seed, int):
        return tf.constant([0, seed], tf.int64)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        return tf.stack([tf.constant(0, tf.int64), seed])
    if seed.shape.rank != 1 or (seed.shape[0] is not None and seed.shape[0] != 2):
        raise ValueError(f"seed must be None, an int or a pair of ints, got shape {seed.shape}")
    return tf.ensure_shape(seed, [2])


def _split_seed(seed, num):
    return tf.unstack(tf.random.experimental.stateless_split(_make_seed(seed), num=num))


def _crop_size(size):
    if isinstance(size, int):
        size = (size, size)
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f"crop size must be positive, got {size}")
    return height, width


def _resize(clip, size, method, antialias):
    """`tf.image.resize` that returns the input dtype (integers: rounded and clipped)."""
    dtype = clip.dtype
    out = tf.image.resize(clip, size, method=method, antialias=antialias)
    if out.dtype != dtype:
        if dtype.is_integer:
            out = tf.saturate_cast(tf.round(out), dtype)
        else:
            out = tf.cast(out, dtype)
    return out


def _check_fits(clip, height, width, what):
    shape = tf.shape(clip)
    return [
        tf.debugging.assert_greater_equal(
            shape[1], height,
            message=f"{what}: clip height is smaller than the crop height {height}"),
        tf.debugging.assert_greater_equal(
            shape[2], width,
            message=f"{what}: clip width is smaller than the crop width {width}"),
    ]


def _crop(clip, top, left, height, width):
    out = clip[:, top:top + height, left:left + width, :]
    return tf.ensure_shape(out, [clip.shape[0], height, width, clip.shape[3]])


# ----------------------------------------------------------------------------------------------
# Scaling


def short_side_scale(clip, size, method="bilinear", antialias=True):
    """Resizes `clip` `(T, H, W, C)` so its short side is `size`, keeping the aspect ratio.

    The long side is `floor(long * size / short + 0.5)` (rounded half up), at least 1. `size` may be
    an int or a scalar int tensor. Returns the input dtype (see the module docstring).
    """
    clip = _as_clip(clip)
    static_h, static_w = clip.shape[1], clip.shape[2]
    if isinstance(size, int) and static_h is not None and static_w is not None:
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        short, long = min(static_h, static_w), max(static_h, static_w)
        new_long = max(1, math.floor(long * size / short + 0.5))
        new_size = (size, new_long) if static_h <= static_w else (new_long, size)
        return _resize(clip, new_size, method, antialias)
    shape = tf.shape(clip)
    height, width = shape[1], shape[2]
    size = tf.cast(size, tf.int32)
    short = tf.minimum(height, width)
    long = tf.maximum(height, width)
    new_long = tf.cast(tf.floor(tf.cast(long, tf.float64) * tf.cast(size, tf.float64)
                                / tf.cast(short, tf.float64) + 0.5), tf.int32)
    new_long = tf.maximum(new_long, 1)
    new_height = tf.where(height <= width, size, new_long)
    new_width = tf.where(height <= width, new_long, size)
    return _resize(clip, tf.stack([new_height, new_width]), method, antialias)


def random_short_side_scale(clip, min_size, max_size, seed=None, method="bilinear",
                            antialias=True):
    """Scale jitter: `short_side_scale` to a short side drawn uniformly from the integers in
    `[min_size, max_size]` (both included), as in the ResNet / SlowFast / CSN training recipes."""
    min_size, max_size = int(min_size), int(max_size)
    if not 1 <= min_size <= max_size:
        raise ValueError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")
    size = tf.random.stateless_uniform([], _make_seed(seed), minval=min_size,
                                       maxval=max_size + 1, dtype=tf.int32)
    return short_side_scale(clip, size, method=method, antialias=antialias)


# ----------------------------------------------------------------------------------------------
# Crops


def random_crop(clip, size, seed=None):
    """Crops one random `size` box (int or `(height, width)`) from `clip`, the same in every frame.

    Raises `tf.errors.InvalidArgumentError` (a `tf.debugging` assertion, at trace time when the
    shape is static) if the clip is smaller than the crop.
    """
    clip = _as_clip(clip)
    height, width = _crop_size(size)
    with tf.control_dependencies(_check_fits(clip, height, width, "random_crop")):
        shape = tf.shape(clip)
        seed_y, seed_x = _split_seed(seed, 2)
        top = tf.random.stateless_uniform([], seed_y, minval=0, maxval=shape[1] - height + 1,
                                          dtype=tf.int32)
        left = tf.random.stateless_uniform([], seed_x, minval=0, maxval=shape[2] - width + 1,
                                           dtype=tf.int32)
        return _crop(clip, top, left, height, width)


def center_crop(clip, size):
    """Crops the central `size` box (int or `(height, width)`); offsets `ceil((H - h) / 2)`."""
    clip = _as_clip(clip)
    height, width = _crop_size(size)
    with tf.control_dependencies(_check_fits(clip, height, width, "center_crop")):
        shape = tf.shape(clip)
        top = (shape[1] - height + 1) // 2
        left = (shape[2] - width + 1) // 2
        return _crop(clip, top, left, height, width)


def three_crop(clip, size):
    """The three `size x size` views of the 10x3 / 30-view evaluation (SlowFast, CSN, X3D).

    Returns `(3, T, size, size, C)`: crops at the start, centre and end of the LONG side (left,
    centre, right for a landscape clip; top, centre, bottom for a portrait one), each centred on
    the short side. This is pytorchvideo / SlowFast `uniform_crop(spatial_idx=0, 1, 2)`: a square
    clip gives three identical crops, and a clip short-side-scaled to `size` (the expected input)
    is covered entirely along its short side. Views 0 and 2 start at 0 and at `long - size`;
    view 1 equals `center_crop(clip, size)`.
    """
    clip = _as_clip(clip)
    size = int(size)
    with tf.control_dependencies(_check_fits(clip, size, size, "three_crop")):
        shape = tf.shape(clip)
        height, width = shape[1], shape[2]
        center_y = (height - size + 1) // 2
        center_x = (width - size + 1) // 2
        portrait = height > width
        tops = tf.where(portrait, tf.stack([0, center_y, height - size]),
                        tf.stack([center_y] * 3))
        lefts = tf.where(portrait, tf.stack([center_x] * 3),
                         tf.stack([0, center_x, width - size]))
        return tf.stack([_crop(clip, tops[i], lefts[i], size, size) for i in range(3)])


def _resized_crop_box(height, width, scale, ratio, seed, attempts=10):
    """torchvision `RandomResizedCrop.get_params` as vectorised TF ops: (top, left, h, w)."""
    seed_area, seed_ratio, seed_y, seed_x = _split_seed(seed, 4)
    height_f, width_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    area = height_f * width_f * tf.random.stateless_uniform(
        [attempts], seed_area, minval=scale[0], maxval=scale[1])
    aspect = tf.exp(tf.random.stateless_uniform(
        [attempts], seed_ratio, minval=math.log(ratio[0]), maxval=math.log(ratio[1])))
    crop_w = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
    crop_h = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
    valid = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
    # Fallback (no attempt fits): a centred crop with the aspect ratio clamped into `ratio`.
    in_ratio = width_f / height_f
    fallback_w = tf.where(in_ratio < ratio[0], width,
                          tf.where(in_ratio > ratio[1],
                                   tf.cast(tf.round(height_f * ratio[1]), tf.int32), width))
    fallback_h = tf.where(in_ratio < ratio[0],
                          tf.cast(tf.round(width_f / ratio[0]), tf.int32),
                          height)
    fallback_w = tf.clip_by_value(fallback_w, 1, width)
    fallback_h = tf.clip_by_value(fallback_h, 1, height)
    first = tf.argmax(tf.cast(valid, tf.int32), output_type=tf.int32)
    found = tf.reduce_any(valid)
    box_h = tf.where(found, crop_h[first], fallback_h)
    box_w = tf.where(found, crop_w[first], fallback_w)
    top = tf.where(found,
                   tf.random.stateless_uniform([], seed_y, minval=0, maxval=height - box_h + 1,
                                               dtype=tf.int32),
                   (height - box_h) // 2)
    left = tf.where(found,
                    tf.random.stateless_uniform([], seed_x, minval=0, maxval=width - box_w + 1,
                                                dtype=tf.int32),
                    (width - box_w) // 2)
    return top, left, box_h, box_w


def random_resized_crop(clip, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), seed=None,
                        method="bilinear", antialias=True):
    """Inception-style crop: one random box (same for all frames), resized to `size`.

    The box covers a fraction of the frame area uniform in `scale` and has a width / height
    ratio log-uniform in `ratio` (torchvision `RandomResizedCrop` sampling, 10 attempts, then a
    centred crop with the ratio clamped into `ratio`). `size` is an int or `(height, width)`.
    Returns the input dtype.
    """
    clip = _as_clip(clip)
    out_h, out_w = _crop_size(size)
    scale = (float(scale[0]), float(scale[1]))
    ratio = (float(ratio[0]), float(ratio[1]))
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"scale must satisfy 0 < scale[0] <= scale[1] <= 1, got {scale}")
    if not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"ratio must satisfy 0 < ratio[0] <= ratio[1], got {ratio}")
    shape = tf.shape(clip)
    top, left, box_h, box_w = _resized_crop_box(shape[1], shape[2], scale, ratio, seed)
    crop = clip[:, top:top + box_h, left:left + box_w, :]
    out = _resize(crop, [out_h, out_w], method, antialias)
    return tf.ensure_shape(out, [clip.shape[0], out_h, out_w, clip.shape[3]])


# ----------------------------------------------------------------------------------------------
# Flip and normalisation


def random_flip(clip, enabled=True, seed=None):
    """Mirrors the whole clip left-right with probability 0.5 (one decision per clip).

    `enabled=False` returns the clip unchanged: use it for direction-sensitive datasets
    (Something-Something: "pushing left to right" becomes "right to left" when flipped).
    `tf.image.random_flip_left_right` is not used because it decides per image, i.e. per frame.
    """
    clip = _as_clip(clip)
    if not enabled:
        return clip
    flip = tf.random.stateless_uniform([], _make_seed(seed)) < 0.5
    return tf.cond(flip, lambda: tf.reverse(clip, axis=[2]), lambda: tf.identity(clip))


def normalize(clip, mean, std):
    """`(clip / 255 - mean) / std` in float32, `mean` and `std` per channel (or scalars).

    Only for models built with `include_preprocessing=False`: keras-video models normally take
    [0, 255] RGB and normalise inside. E.g. Kinetics: `mean=(0.45, 0.45, 0.45)`,
    `std=(0.225, 0.225, 0.225)`; ImageNet: `(0.485, 0.456, 0.406)`, `(0.229, 0.224, 0.225)`.
    """
    clip = tf.cast(tf.convert_to_tensor(clip), tf.float32)
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)
    if (tf.get_static_value(std) == 0).any():
        raise ValueError(f"std must be non-zero, got {tf.get_static_value(std)}")
    return (clip / 255.0 - mean) / std


# ----------------------------------------------------------------------------------------------
# Batch mixing


def _mix_inputs(clips, labels):
    clips = _as_clip(clips, "clips", rank=5)
    if not clips.dtype.is_floating:
        clips = tf.cast(clips, tf.float32)
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank is not None and labels.shape.rank != 2:
        raise ValueError(f"labels must be one-hot or soft labels (B, K), got shape {labels.shape}")
    labels = tf.cast(labels, tf.float32)
    return clips, labels


def _beta(shape, alpha, seed):
    """Beta(alpha, alpha) samples from two stateless gamma draws."""
    seed_a, seed_b = _split_seed(seed, 2)
    gamma_a = tf.random.stateless_gamma(shape, seed_a, alpha)
    gamma_b = tf.random.stateless_gamma(shape, seed_b, alpha)
    return gamma_a / tf.maximum(gamma_a + gamma_b, 1e-30)


def _partners(batch, seed):
    """A random permutation of `range(batch)`."""
    return tf.argsort(tf.random.stateless_uniform([batch], seed))


def mixup(clips, labels, alpha=0.8, seed=None):
    """MixUp on a batch: `lam * x + (1 - lam) * x[perm]`, labels mixed with the same `lam`.

    `clips` `(B, T, H, W, C)`, `labels` `(B, K)` one-hot or soft. One `lam ~ Beta(alpha, alpha)`
    per clip and a random partner permutation (a clip may draw itself, which leaves it unchanged
    with consistent labels). Returns `(clips, labels)`: float clips (float32 unless already
    float) and float32 labels. Use after `dataset.batch`.

    Written with TF ops instead of `keras.layers.MixUp` because that layer only accepts rank-3/4
    images and draws seeds from a stateful `SeedGenerator` (a variable per layer object), which
    does not fit a function taking `seed` per call.
    """
    clips, labels = _mix_inputs(clips, labels)
    alpha = float(alpha)
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    seed_lam, seed_perm = _split_seed(seed, 2)
    batch = tf.shape(clips)[0]
    lam = _beta([batch], alpha, seed_lam)
    perm = _partners(batch, seed_perm)
    lam_x = tf.cast(tf.reshape(lam, [-1, 1, 1, 1, 1]), clips.dtype)
    mixed = lam_x * clips + (1 - lam_x) * tf.gather(clips, perm)
    mixed_labels = lam[:, None] * labels + (1 - lam[:, None]) * tf.gather(labels, perm)
    return tf.ensure_shape(mixed, clips.shape), mixed_labels


def cutmix(clips, labels, alpha=1.0, seed=None):
    """CutMix on a batch: pastes a box from a partner clip into every frame; labels mixed by area.

    Per clip, as in the CutMix paper: `lam ~ Beta(alpha, alpha)`, a box of
    `int(H * sqrt(1 - lam)) x int(W * sqrt(1 - lam))` centred uniformly in the frame and clipped
    to it. The SAME box is used in all `T` frames. The label weight of the partner is the box's
    actual pixel area / (H * W) after clipping, so labels match the pixels exactly. Returns
    `(clips, labels)` like `mixup`.

    Written with TF ops instead of `keras.layers.CutMix` (which could share the box over frames by
    folding T into channels) because that layer mixes labels by the continuous box area while
    pasting a rounded pixel box (label weights off from the pasted fraction by a few percent), and
    draws its Beta parameter uniformly in `(0, factor)` instead of using a fixed `alpha` as the
    paper and timm do.
    """
    clips, labels = _mix_inputs(clips, labels)
    alpha = float(alpha)
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    seed_lam, seed_perm, seed_y, seed_x = _split_seed(seed, 4)
    shape = tf.shape(clips)
    batch, height, width = shape[0], shape[2], shape[3]
    lam = _beta([batch], alpha, seed_lam)
    cut = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.cast(height, tf.float32) * cut, tf.int32)
    cut_w = tf.cast(tf.cast(width, tf.float32) * cut, tf.int32)
    cy = tf.random.stateless_uniform([batch], seed_y, minval=0, maxval=height, dtype=tf.int32)
    cx = tf.random.stateless_uniform([batch], seed_x, minval=0, maxval=width, dtype=tf.int32)
    y0 = tf.clip_by_value(cy - cut_h // 2, 0, height)
    y1 = tf.clip_by_value(cy + cut_h // 2, 0, height)
    x0 = tf.clip_by_value(cx - cut_w // 2, 0, width)
    x1 = tf.clip_by_value(cx + cut_w // 2, 0, width)
    rows = tf.range(height)[None, :]
    cols = tf.range(width)[None, :]
    in_rows = (rows >= y0[:, None]) & (rows < y1[:, None])  # (B, H)
    in_cols = (cols >= x0[:, None]) & (cols < x1[:, None])  # (B, W)
    box = in_rows[:, :, None] & in_cols[:, None, :]  # (B, H, W)
    perm = _partners(batch, seed_perm)
    mixed = tf.where(box[:, None, :, :, None], tf.gather(clips, perm), clips)
    area = tf.cast((y1 - y0) * (x1 - x0), tf.float32) / tf.cast(height * width, tf.float32)
    mixed_labels = (1 - area[:, None]) * labels + area[:, None] * tf.gather(labels, perm)
    return tf.ensure_shape(mixed, clips.shape), mixed_labels
