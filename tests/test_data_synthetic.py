"""The synthetic motion dataset: shapes, determinism, each class's motion measured from the
pixels and masks, the exact time-reversal pairing, the orbits' one set of frames in four orders,
class-blind appearance, and real video files."""
import os

import av
import numpy as np
import pytest

from conftest import TINY
from keras_video.data.decoding import read_video
from keras_video.data.synthetic import (MOTION_CLASSES, ORBIT_CLASSES, clip_rng, make_clip,
                                        make_clips, synthetic_dataset, write_synthetic_videos)

PAIRS = [("move_left", "move_right"), ("move_up", "move_down"),
         ("rotate_clockwise", "rotate_counterclockwise"), ("approach", "recede")]


def centroids(mask):
    """Per-frame centre of mass `(T, 2)` (x, y) of an alpha mask `(T, H, W)`, in pixels."""
    total = mask.sum(axis=(1, 2))
    pixels = np.arange(mask.shape[-1]) + 0.5
    x = (mask.sum(axis=1) * pixels).sum(axis=1) / total
    y = (mask.sum(axis=2) * pixels).sum(axis=1) / total
    return np.stack([x, y], axis=1)


def rotation_steps(clip, mask, max_degrees=30):
    """The angle (degrees) that best maps each frame's object onto the next one (about its mask's
    centroid), found by trying every whole degree: positive is clockwise on screen (x right,
    y down)."""
    frames = clip.astype(np.float32)
    size = clip.shape[1]
    candidates = np.deg2rad(np.arange(-max_degrees, max_degrees + 1))
    steps = []
    for t in range(len(clip) - 1):
        cx, cy = centroids(mask[t:t + 1])[0]
        ys, xs = np.nonzero(mask[t] > 0.99)
        dx, dy = xs + 0.5 - cx, ys + 0.5 - cy
        cos, sin = np.cos(candidates)[:, None], np.sin(candidates)[:, None]
        qx = np.clip(np.floor(cx + cos * dx - sin * dy).astype(int), 0, size - 1)
        qy = np.clip(np.floor(cy + sin * dx + cos * dy).astype(int), 0, size - 1)
        errors = np.abs(frames[t + 1][qy, qx] - frames[t][ys, xs][None]).mean(axis=(1, 2))
        best = candidates[errors <= errors.min() + 1e-3]  # ties (a thin shape): their middle
        steps.append(np.rad2deg(best.mean()))
    return np.array(steps)


# ---------------------------------------------------------------- shapes, determinism, the API

@pytest.mark.parametrize("num_frames, size", [(16, 64), (8, 32), (2, 17)])
def test_make_clip_shape_dtype_and_label_forms(num_frames, size):
    for index, name in enumerate(MOTION_CLASSES):
        clip = make_clip(name, num_frames, size, rng=np.random.default_rng(index))
        assert clip.shape == (num_frames, size, size, 3) and clip.dtype == np.uint8
        np.testing.assert_array_equal(
            clip, make_clip(index, num_frames, size, rng=np.random.default_rng(index)))
        np.testing.assert_array_equal(clip, make_clip(name, num_frames, size, rng=index))
        assert 15 < clip.std() and clip.min() < clip.max()  # textured, not flat


def test_make_clip_is_deterministic_and_varies_with_the_seed():
    a = make_clip("approach", rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, make_clip("approach", rng=np.random.default_rng(3)))
    assert np.abs(a.astype(int) - make_clip("approach", rng=np.random.default_rng(4))).mean() > 10
    rng = np.random.default_rng(0)  # a generator is advanced: consecutive clips differ
    assert not np.array_equal(make_clip(0, 8, 32, rng), make_clip(0, 8, 32, rng))


def test_make_clips_is_shuffled_balanced_and_deterministic():
    clips, labels = make_clips(3, 4, 32, seed=5)
    assert clips.dtype == np.uint8
    assert clips.shape == (3 * len(MOTION_CLASSES), 4, 32, 32, 3)
    assert labels.dtype == np.int32 and np.bincount(labels).tolist() == [3] * len(MOTION_CLASSES)
    assert not np.array_equal(labels, np.sort(labels))  # shuffled
    again_clips, again_labels = make_clips(3, 4, 32, seed=5)
    np.testing.assert_array_equal(clips, again_clips)
    np.testing.assert_array_equal(labels, again_labels)
    other_clips, _ = make_clips(3, 4, 32, seed=6)
    assert not np.array_equal(clips, other_clips)
    # Every clip is make_clip of its class with the documented per-clip generator.
    for label, name in enumerate(MOTION_CLASSES):
        expected = [make_clip(name, 4, 32, clip_rng(5, name, i)) for i in range(3)]
        got = clips[labels == label]
        assert all(any(np.array_equal(g, e) for e in expected) for g in got)


def test_make_clips_with_a_subset_of_classes_indexes_that_subset():
    classes = ("recede", "move_up")
    clips, labels = make_clips(2, 4, 32, classes=classes, seed=1)
    assert clips.shape[0] == 4 and sorted(labels.tolist()) == [0, 0, 1, 1]
    for clip, label in zip(clips, labels):
        name = classes[label]
        assert any(np.array_equal(clip, make_clip(name, 4, 32, clip_rng(1, name, i)))
                   for i in range(2))


def test_synthetic_dataset_yields_the_clips_of_make_clips():
    import tensorflow as tf

    dataset = synthetic_dataset(2, 4, 32, classes=("approach", "recede", "move_left"), seed=2)
    assert dataset.element_spec == (tf.TensorSpec((4, 32, 32, 3), tf.uint8),
                                    tf.TensorSpec((), tf.int32))
    assert int(dataset.cardinality()) == 6
    clips, labels = make_clips(2, 4, 32, classes=("approach", "recede", "move_left"), seed=2)
    for _ in range(2):  # every iteration yields the same clips
        got = list(dataset.as_numpy_iterator())
        np.testing.assert_array_equal(np.stack([c for c, _ in got]), clips)
        np.testing.assert_array_equal(np.array([l for _, l in got]), labels)


def test_arguments_are_validated_with_clear_errors():
    with pytest.raises(ValueError, match="unknown motion class 'jump'"):
        make_clip("jump")
    with pytest.raises(ValueError, match="out of range"):
        make_clip(len(MOTION_CLASSES))
    with pytest.raises(TypeError, match="label"):
        make_clip(1.5)
    with pytest.raises(ValueError, match="num_frames must be at least 2"):
        make_clip(0, num_frames=1)
    with pytest.raises(ValueError, match="size must be at least 16"):
        make_clip(0, size=8)
    with pytest.raises(ValueError, match="unknown motion class 'spin'"):
        make_clips(1, classes=("approach", "spin"))
    with pytest.raises(ValueError, match="repeated"):
        make_clips(1, classes=("approach", "approach"))
    with pytest.raises(TypeError, match="sequence of names"):
        make_clips(1, classes="approach")
    with pytest.raises(ValueError, match="num_per_class"):
        make_clips(0)
    with pytest.raises(ValueError, match="seed"):
        make_clips(1, seed=-1)
    with pytest.raises(ValueError, match="num_frames"):
        synthetic_dataset(1, num_frames=1)
    with pytest.raises(ValueError, match="even frame size"):
        write_synthetic_videos("/nonexistent", 1, size=33, formats=("avi",), progress=False)
    with pytest.raises(ValueError, match="unsupported video format 'gif'"):
        write_synthetic_videos("/nonexistent", 1, formats=("mp4", "gif"), progress=False)


# ---------------------------------------------------------------- the motion of each class

@pytest.mark.parametrize("seed", range(5))
def test_translations_move_the_object_the_named_way(seed):
    size = 64
    for name, axis, sign in [("move_left", 0, -1), ("move_right", 0, 1),
                             ("move_up", 1, -1), ("move_down", 1, 1)]:
        clip, mask = make_clip(name, 16, size, rng=seed, return_mask=True)
        path = centroids(mask)
        along, across = path[:, axis], path[:, 1 - axis]
        assert sign * (along[-1] - along[0]) > 0.3 * size, (name, along)
        assert np.all(sign * np.diff(along) > 0.5), (name, along)  # over a pixel a frame
        assert np.ptp(across) < 0.05 * size, (name, across)
        area = mask.sum(axis=(1, 2))
        assert np.ptp(area) < 0.1 * area.mean()  # no zoom (a little loss at the borders)


@pytest.mark.parametrize("seed", range(4))
def test_zooms_grow_or_shrink_the_object_in_place(seed):
    for name, sign in [("approach", 1), ("recede", -1)]:
        clip, mask = make_clip(name, 16, 64, rng=seed, return_mask=True)
        area = mask.sum(axis=(1, 2))
        assert np.all(sign * np.diff(area) > 0), (name, area)
        ratio = area[-1] / area[0] if sign > 0 else area[0] / area[-1]
        assert ratio > 2.0, (name, area)
        assert np.ptp(centroids(mask), axis=0).max() < 2.5  # stays put


@pytest.mark.parametrize("seed", range(4))
def test_rotations_turn_the_object_the_named_way_in_the_pixels(seed):
    for name, sign in [("rotate_clockwise", 1), ("rotate_counterclockwise", -1)]:
        clip, mask = make_clip(name, 16, 64, rng=seed, return_mask=True)
        steps = rotation_steps(clip, mask)
        # 0.6 to 1 half-turn over 15 steps: 7 to 12 degrees a frame, measured to a degree or two.
        assert np.all(sign * steps > 0), (name, steps)
        assert 5 <= sign * np.median(steps) <= 14, (name, steps)
        assert np.ptp(centroids(mask), axis=0).max() < 1.0
        area = mask.sum(axis=(1, 2))
        assert np.ptp(area) < 0.06 * area.mean()


ORBITS = [("orbit_clockwise", 1), ("orbit_counterclockwise", -1), ("orbit_clockwise_fast", 3),
          ("orbit_counterclockwise_fast", -3)]


@pytest.mark.parametrize("seed", range(4))
def test_orbits_circle_the_named_way_at_the_named_speed(seed):
    """The object's centroid goes round a fixed point at a fixed radius, 1/16 of a turn a frame
    (one turn a clip) or 3/16 (three turns), clockwise on screen (x right, y down) or not."""
    size, frames = 64, 16
    for name, turns in ORBITS:
        clip, mask = make_clip(name, frames, size, rng=seed, return_mask=True)
        path = centroids(mask)
        offset = path - path.mean(axis=0)  # evenly spaced angles: the mean is the orbit's centre
        radius = np.hypot(*offset.T)
        assert np.ptp(radius) < 0.08 * radius.mean(), (name, radius)
        assert 0.16 * size < radius.mean() < 0.3 * size, (name, radius)
        angle = np.arctan2(offset[:, 1], offset[:, 0])
        steps = np.rad2deg(np.angle(np.exp(1j * np.diff(angle))))
        np.testing.assert_allclose(steps, 360 / frames * turns, atol=4, err_msg=name)
        area = mask.sum(axis=(1, 2))
        assert np.ptp(area) < 0.1 * area.mean()  # no zoom


@pytest.mark.parametrize("num_frames", [16, 8, 17])
def test_every_orbit_class_plays_the_same_frames_in_another_order(num_frames):
    """For one generator state, class m's frame t is the clockwise orbit's frame (m t) mod T, bit
    for bit (noise and jitter included): the four clips are one set of frames. With 16 frames,
    the frames at every power-of-two stride are the same set, and at stride 8 (where C2D looks)
    the same frames in the same order."""
    for seed in range(3):
        base, base_mask = make_clip("orbit_clockwise", num_frames, 32, rng=seed, return_mask=True)
        assert len({frame.tobytes() for frame in base}) == num_frames  # every frame differs
        for name, turns in ORBITS:
            clip, mask = make_clip(name, num_frames, 32, rng=seed, return_mask=True)
            order = (turns * np.arange(num_frames)) % num_frames
            np.testing.assert_array_equal(clip, base[order])
            np.testing.assert_array_equal(mask, base_mask[order])
            assert sorted(f.tobytes() for f in clip) == sorted(f.tobytes() for f in base)
            if num_frames == 16:
                for stride in (2, 4):
                    assert (sorted(f.tobytes() for f in clip[::stride])
                            == sorted(f.tobytes() for f in base[::stride]))
                np.testing.assert_array_equal(clip[::8], base[::8])


def test_a_frame_level_network_cannot_tell_the_orbits_apart():
    """C2D (temporal strides, no temporal kernels) gives the four orbit classes of one generator
    state the same output, whatever its weights: on balanced orbit data it is at chance. A
    network with temporal kernels (S3D) does not."""
    from keras_video import zoo

    clips = np.stack([make_clip(name, 16, 32, rng=7) for name in ORBIT_CLASSES])
    c2d = zoo.C2D(input_shape=(16, 32, 32, 3), classes=4, dropout_rate=0.0, **TINY)
    outputs = c2d(clips).numpy()
    np.testing.assert_allclose(outputs, np.broadcast_to(outputs[:1], outputs.shape), atol=1e-6)
    s3d = zoo.S3D(input_shape=(16, 32, 32, 3), classes=4, dropout_rate=0.0, **TINY)
    outputs = s3d(clips).numpy()
    assert np.abs(outputs - outputs[:1]).max() > 1e-4


def test_the_rotation_measurement_reads_clockwise_as_positive():
    """The measurement itself, on a hand-drawn bar: from 3 o'clock towards 4 o'clock (its tip
    moving down the screen) is clockwise, so +10 degrees; back again is -10; still is 0."""
    size, centre = 64, 32.0
    ys, xs = np.mgrid[:size, :size] + 0.5

    def bar(degrees):
        theta = np.deg2rad(degrees)
        along = (xs - centre) * np.cos(theta) + (ys - centre) * np.sin(theta)
        across = -(xs - centre) * np.sin(theta) + (ys - centre) * np.cos(theta)
        image = np.where((along > 0) & (along < 14) & (np.abs(across) < 2), 250, 40)
        return np.repeat(image[..., None], 3, axis=-1).astype(np.uint8)

    disc = ((xs - centre) ** 2 + (ys - centre) ** 2 < 15 ** 2).astype(np.float32)
    for angles, expected in [((0, 10, 20), 10), ((20, 10, 0), -10), ((5, 5, 5), 0)]:
        clip = np.stack([bar(a) for a in angles])
        steps = rotation_steps(clip, np.stack([disc] * 3))
        np.testing.assert_allclose(steps, [expected] * 2, atol=1)


def test_the_mask_is_where_the_object_is_in_the_pixels():
    """The masks the motion tests read describe the pixels: inside, the object's colour; just
    outside, the background's, and the two differ clearly."""
    for seed in range(len(MOTION_CLASSES)):
        clip, mask = make_clip(seed, 8, 64, rng=seed, return_mask=True)
        brightness = clip.astype(np.float32).mean(axis=-1)
        inside = brightness[mask > 0.99].mean()
        outside = brightness[mask < 0.01].mean()
        assert abs(inside - outside) > 30, (seed, inside, outside)
        # The mask moves with the pixels: the frames differ most where the mask changes.
        changed = np.abs(np.diff(mask, axis=0)) > 0.5
        if changed.sum() > 20:  # not a turning disc
            pixel_change = np.abs(np.diff(brightness, axis=0))
            assert pixel_change[changed].mean() > 3 * pixel_change[~changed].mean(), seed


# ---------------------------------------------------------------- time reversal, class-blindness

@pytest.mark.parametrize("first, second", PAIRS)
def test_each_class_is_the_exact_time_reverse_of_its_pair(first, second):
    for seed in range(6):
        for num_frames, size in [(16, 64), (7, 33)]:
            a, mask_a = make_clip(first, num_frames, size, rng=seed, return_mask=True)
            b, mask_b = make_clip(second, num_frames, size, rng=seed, return_mask=True)
            np.testing.assert_array_equal(a[::-1], b)
            np.testing.assert_array_equal(mask_a[::-1], mask_b)
            assert not np.array_equal(a, b)  # and the clip does change with time


def test_the_sampler_draws_the_same_nuisances_for_every_class():
    """One generator state gives every class the same background, object, shape and colours: the
    first frames of the rendered members (the last of their reverses) differ only in where the
    object is."""
    def draws_used(name):
        rng = np.random.default_rng(9)
        make_clip(name, 8, 32, rng)
        return rng.integers(1 << 62)  # the next draw: equal when every class used the same draws

    assert len({draws_used(name) for name in MOTION_CLASSES}) == 1
    background = []
    rendered = ("move_right", "move_down", "rotate_clockwise", "approach") + ORBIT_CLASSES
    for name in MOTION_CLASSES:
        for t in ([0] if name in rendered else [-1]):
            clip, mask = make_clip(name, 16, 64, rng=9, return_mask=True)
            background.append((clip[t].astype(int), mask[t]))
    reference, reference_mask = background[0]
    for clip, mask in background[1:]:
        free = (mask == 0) & (reference_mask == 0)
        np.testing.assert_array_equal(clip[free], reference[free])


def test_clip_averaged_appearance_is_the_same_for_every_class_given_the_same_draws():
    """Object area averaged over the clip and the mean colour agree across all the classes for
    one generator state (a non-zooming object has the zoom sweep's mean area)."""
    for seed in range(6):
        areas, colours = [], []
        for name in MOTION_CLASSES:
            clip, mask = make_clip(name, 16, 64, rng=seed, return_mask=True)
            areas.append(mask.sum(axis=(1, 2)).mean())
            colours.append(clip.reshape(-1, 3).mean(axis=0))
        areas, colours = np.array(areas), np.array(colours)
        assert np.ptp(areas) < 0.01 * areas.mean(), (seed, areas)
        assert np.ptp(colours, axis=0).max() < 2, (seed, colours)


def test_per_clip_appearance_statistics_do_not_separate_classes():
    """Over independent samples, the class means of per-clip mean colour and mean object area
    are as close as sampling noise allows (one-way ANOVA F well under its 1% critical value), and
    a nearest-class-mean classifier on them is at chance."""
    num_per_class, num_frames, size = 30, 8, 32
    stats, labels = [], []
    for label, name in enumerate(MOTION_CLASSES):
        for index in range(num_per_class):
            clip, mask = make_clip(name, num_frames, size, clip_rng(11, name, index),
                                   return_mask=True)
            stats.append(np.concatenate([clip.reshape(-1, 3).mean(axis=0),
                                         [mask.sum(axis=(1, 2)).mean()]]))
            labels.append(label)
    stats, labels = np.array(stats), np.array(labels)
    k = len(MOTION_CLASSES)
    groups = [stats[labels == c] for c in range(k)]
    means = np.array([g.mean(axis=0) for g in groups])
    between = num_per_class * ((means - stats.mean(axis=0)) ** 2).sum(axis=0) / (k - 1)
    within = sum(((g - m) ** 2).sum(axis=0) for g, m in zip(groups, means)) / (len(stats) - k)
    assert k == 12 and np.all(between / within < 2.3), between / within  # F(11, 348) at 1%: 2.3
    # Nearest class mean, fitted on even clips and scored on odd ones.
    train = np.arange(len(stats)) % 2 == 0
    scale = stats[train].std(axis=0)
    centres = np.array([stats[train & (labels == c)].mean(axis=0) for c in range(k)]) / scale
    distances = (((stats[~train] / scale)[:, None] - centres[None]) ** 2).sum(axis=-1)
    predicted = np.argmin(distances, axis=-1)
    accuracy = (predicted == labels[~train]).mean()
    assert accuracy < 2 / k, accuracy  # chance is 1 / k


# ---------------------------------------------------------------- real video files

def test_write_synthetic_videos_tree_formats_and_round_trip(tmp_path):
    classes = ("move_left", "rotate_clockwise", "approach")
    paths = write_synthetic_videos(tmp_path, 3, num_frames=8, size=64, fps=8, classes=classes,
                                   seed=4, progress=False, workers=3)
    expected = [os.path.join(str(tmp_path), name, f"{name}_{i:04d}.{('mp4', 'avi')[i % 2]}")
                for name in classes for i in range(3)]
    assert paths == expected
    assert sorted(os.listdir(tmp_path)) == sorted(classes)
    for name in classes:
        assert sorted(os.listdir(tmp_path / name)) == [f"{name}_0000.mp4", f"{name}_0001.avi",
                                                        f"{name}_0002.mp4"]
    for path in paths:
        name, index = os.path.basename(path).rsplit(".", 1)[0].rsplit("_", 1)
        original = make_clip(name, 8, 64, clip_rng(4, name, int(index))).astype(int)
        with av.open(path) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == ("h264" if path.endswith("mp4") else "mpeg4")
            decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        assert decoded.shape == original.shape, path
        # Near-lossless, but 4:2:0 chroma subsampling blurs the colour of fine textures.
        error = np.abs(decoded - original).mean()
        luma_error = np.abs(decoded.mean(axis=-1) - original.mean(axis=-1)).mean()
        assert error < 6 and luma_error < 3.5, (path, error, luma_error)
    # Written by one thread, the files hold the same pictures as written by three.
    serial = write_synthetic_videos(tmp_path / "serial", 3, num_frames=8, size=64, fps=8,
                                    classes=classes, seed=4, progress=False, workers=1)
    for path, other in zip(paths, serial):
        assert os.path.basename(path) == os.path.basename(other)
        np.testing.assert_array_equal(read_video(path).frames, read_video(other).frames)


def test_the_same_frames_encode_to_the_same_file_call_after_call(tmp_path):
    # x264's AVX-512 code gave up to four different files in ten calls (write_video leaves it
    # out on CPUs that have it); the dataset's files, and the demo's results, would vary.
    from keras_video.data.encoding import write_video

    frames = make_clip("move_left", 8, 64, clip_rng(4, "move_left", 0))
    files = set()
    for k in range(10):
        write_video(tmp_path / f"{k}.mp4", frames, fps=8)
        files.add((tmp_path / f"{k}.mp4").read_bytes())
    assert len(files) == 1


def test_write_synthetic_videos_with_one_format_and_a_progress_bar(tmp_path, capsys):
    paths = write_synthetic_videos(str(tmp_path / "out"), 2, num_frames=4, size=32,
                                   classes=("recede",), formats=("avi",), seed=0)
    assert [os.path.basename(p) for p in paths] == ["recede_0000.avi", "recede_0001.avi"]
    assert "2/2" in capsys.readouterr().out
