"""A synthetic action-detection dataset whose actions show only over time.

Each video is a textured scene with one or two textured objects (disc, square, triangle or
cross), each circling a point of its own. An object's action is one of the four orbit classes
of `keras_video.data.synthetic` (`ORBIT_CLASSES`): its orbit is rendered at `T` evenly spaced
angles and played in the order `(m * t) mod T` for m = 1, -1, 3, -3 (one turn clockwise or
counter-clockwise, or three turns, per `T` frames). For one draw of the nuisances, an object
takes the same `T` positions in every class, only in another order, so a single frame (or any
set of frames without their order) says nothing of the class, while where the object is, its
box, shows in every frame.

The video is one period of every orbit (`num_frames = T`), so it loops seamlessly: clips that
run past either end should wrap around (`pipeline`'s `edge="loop"`) and then continue every
orbit exactly. With a power-of-two `T`, a frame-level network whose temporal strides keep clip
frames `k` and `k + T / 2` (C2D on `T` frames, at Mixed_4f) sees each object at two opposite
points of its orbit in every class.

Every nuisance is drawn by one sampler that does not look at the classes, always with the
same draws in the same order: background colours and gratings, pixel noise, the number of
objects comes from the caller, and per object its shape, colours, texture, radius, orbit
radius, orbit centre and phase. Two objects sit in the two halves of the frame (left / right or
top / bottom, drawn), so their orbits never overlap: no occlusion, and their centres never fall
in one cell of a stride-`size / 4` feature map.

Ground truth per object is its box in every frame, the tight box of the pixels its mask
covers by at least half (pixel edges: `x2 = last column + 1`), in pixels. `write_detection_videos`
writes real video files and returns the ground truth in the JHMDB layout (see
`jhmdb_ground_truth`).
"""
import os
import pickle

import numpy as np

from keras_video.data.synthetic import (_EXTENT, _MOTIONS, ORBIT_CLASSES, SHAPES, _check_shape,
                                        _gratings, _shape_distance)
from keras_video.progress import bar as progress_bar

MIN_SIZE = 32
_RADIUS = (0.075, 0.10)        # object radius, a fraction of the frame size
_ORBIT = (0.06, 0.09)          # orbit radius, a fraction of the frame size
_NOISE = (0.0, 0.03)           # pixel noise standard deviation (of [0, 1] intensities)
MAX_OBJECTS = 2


def _multiplier(name):
    kind, order = _MOTIONS.get(name, (None, None))
    if kind != "orbit":
        raise ValueError(f"{name!r} is not an orbit class; the classes are {ORBIT_CLASSES}")
    return order


def _check(num_frames, size):
    _check_shape(num_frames, size, min_frames=4, min_size=MIN_SIZE, shown="an orbit")


def _sample(rng, num_frames, size, num_objects):
    """Every random quantity of a scene, in a fixed order whatever the classes."""
    s = float(size)
    base = rng.uniform(0.2, 0.8, 3)
    scene = {
        "bg_colours": (base, rng.uniform(-0.3, 0.3, 3)),
        "bg_gratings": (rng.uniform(1.5, 6.0, 3) * 2 * np.pi / s, rng.uniform(0, np.pi, 3),
                        rng.uniform(0, 2 * np.pi, 3)),
        "noise": rng.uniform(*_NOISE),
        "noise_field": rng.standard_normal((num_frames, size, size), dtype=np.float32),
        "split_axis": int(rng.integers(2)),  # two objects: 0 left / right, 1 top / bottom
        "objects": [],
    }
    for k in range(num_objects):
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        # A colour whose brightness is well away from the background's, as data.synthetic.
        brightness = base.mean() + rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 0.45)
        if not 0.05 <= brightness <= 0.95:
            brightness = 2 * base.mean() - brightness
        tint = rng.uniform(-0.25, 0.25, 3)
        radius = rng.uniform(*_RADIUS) * s
        orbit = rng.uniform(*_ORBIT) * s
        reach = orbit + _EXTENT[shape] * radius + 1.0  # farthest pixel from the orbit centre
        # Object k's region: the whole frame alone, else its half (drawn along split_axis).
        low, high = np.zeros(2), np.full(2, s)
        if num_objects == 2:
            axis = scene["split_axis"]
            low[axis], high[axis] = (0.0, s / 2) if k == 0 else (s / 2, s)
        centre = rng.uniform(low + reach, high - reach)
        scene["objects"].append({
            "shape": shape, "colour": np.clip(brightness + tint - tint.mean(), 0, 1),
            "contrast": rng.uniform(0.3, 0.45),
            "gratings": (rng.uniform(1.0, 2.0, 2) * np.pi, rng.uniform(0, np.pi, 2),
                         rng.uniform(0, 2 * np.pi, 2)),
            "angle": rng.uniform(0, 2 * np.pi), "radius": radius, "orbit": orbit,
            "centre": centre, "phase": rng.uniform(0, 2 * np.pi),
        })
    return scene


def make_scene(labels, num_frames=8, size=64, rng=None):
    """One scene with an object per entry of `labels` (orbit class names or indices into
    `ORBIT_CLASSES`; one or two): uint8 frames `(num_frames, size, size, 3)` and, per object,
    its boxes `(num_frames, 4)` float32 pixels `x1, y1, x2, y2`."""
    _check(num_frames, size)
    names = [ORBIT_CLASSES[int(label)] if not isinstance(label, str) else label
             for label in labels]
    if not 1 <= len(names) <= MAX_OBJECTS:
        raise ValueError(f"a scene has 1 to {MAX_OBJECTS} objects, got {len(names)} labels")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    scene = _sample(rng, num_frames, size, len(names))
    f32 = np.float32
    grid = np.arange(size, dtype=f32) + f32(0.5)
    base, delta = scene["bg_colours"]
    mix = _gratings(grid[None, :], grid[:, None], scene["bg_gratings"])
    frames = (255 * base + 0.5).astype(f32) + mix[..., None] * (255 * delta).astype(f32)
    frames = np.broadcast_to(frames, (num_frames, size, size, 3)) + \
        (f32(255 * scene["noise"]) * scene["noise_field"])[..., None]
    boxes = []
    t = np.arange(num_frames)
    for name, obj in zip(names, scene["objects"]):
        # Frame t shows the orbit position (m * t) mod T: one set of positions, reordered.
        theta = obj["phase"] + 2 * np.pi * ((_multiplier(name) * t) % num_frames) / num_frames
        cx = obj["centre"][0] + obj["orbit"] * np.cos(theta)
        cy = obj["centre"][1] + obj["orbit"] * np.sin(theta)
        dx = grid[None, None, :] - cx.astype(f32)[:, None, None]  # (T, 1, W)
        dy = grid[None, :, None] - cy.astype(f32)[:, None, None]  # (T, H, 1)
        cos, sin = f32(np.cos(obj["angle"])), f32(np.sin(obj["angle"]))
        scale = f32(1 / obj["radius"])
        u = (cos * scale) * dx + (sin * scale) * dy
        v = (cos * scale) * dy - (sin * scale) * dx
        alpha = np.clip(f32(0.5) - _shape_distance(obj["shape"], u, v) * f32(obj["radius"]), 0, 1)
        colour = obj["colour"]
        direction = np.where(colour > 0.5, -1.0, 1.0) * 255 * obj["contrast"]
        shade = _gratings(u, v, obj["gratings"])
        paint = (255 * colour + 0.5).astype(f32) + shade[..., None] * direction.astype(f32)
        frames = frames + alpha[..., None] * (paint - frames)
        boxes.append(_tight_boxes(alpha >= 0.5))
    return np.clip(frames, 0, 255).astype(np.uint8), boxes


def _tight_boxes(mask):
    """Pixel-edge boxes `(T, 4)` of the True pixels of each frame of `mask` `(T, H, W)`."""
    rows, columns = mask.any(axis=2), mask.any(axis=1)
    if not rows.any(axis=1).all():
        raise AssertionError("an object left the frame")  # the placement rules this out
    y1, x1 = rows.argmax(axis=1), columns.argmax(axis=1)
    y2 = mask.shape[1] - rows[:, ::-1].argmax(axis=1)
    x2 = mask.shape[2] - columns[:, ::-1].argmax(axis=1)
    return np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)


def scene_labels(seed, index, max_objects=MAX_OBJECTS, num_classes=len(ORBIT_CLASSES)):
    """The class indices of scene `index` of `write_detection_videos` with `seed`: one or up
    to `max_objects` objects, each class uniform (a generator of its own, so that the scene's
    nuisances do not depend on its classes)."""
    rng = np.random.default_rng([int(seed), int(index), 1])
    count = int(rng.integers(1, max_objects + 1))
    return [int(c) for c in rng.integers(num_classes, size=count)]


def scene_rng(seed, index):
    """The nuisance generator of scene `index` of `write_detection_videos` with `seed`."""
    return np.random.default_rng([int(seed), int(index), 0])


def jhmdb_ground_truth(videos, labels=ORBIT_CLASSES, train=(), test=()):
    """A ground truth dict in the layout of the JHMDB-21 / UCF101-24 pickles (as the ACT and
    MOC detectors' `JHMDB-GT.pkl`), one split:

    - `labels`: class names; `nframes`: {video: frames}; `resolution`: {video: (height, width)};
    - `gttubes`: {video: {label index: [tube, ...]}}, a tube an array `(N, 5)` of rows
      `frame (1-based), x1, y1, x2, y2` in pixels;
    - `train_videos`, `test_videos`: one list of video names per split.

    `videos` maps a name to `(num_frames, (height, width), [(label, boxes (T, 4)), ...])`."""
    gttubes, nframes, resolution = {}, {}, {}
    for name, (frames, hw, tubes) in videos.items():
        nframes[name], resolution[name] = int(frames), tuple(int(v) for v in hw)
        by_label = gttubes.setdefault(name, {})
        for label, boxes in tubes:
            rows = np.concatenate([np.arange(1, len(boxes) + 1, dtype=np.float32)[:, None],
                                   np.asarray(boxes, np.float32)], axis=1)
            by_label.setdefault(int(label), []).append(rows)
    return {"labels": list(labels), "gttubes": gttubes, "nframes": nframes,
            "resolution": resolution, "train_videos": [list(train)],
            "test_videos": [list(test)]}


def write_detection_videos(root, num_train, num_test, num_frames=8, size=64, fps=8,
                           extension="mp4", max_objects=MAX_OBJECTS, seed=0, workers=None,
                           progress=False):
    """Writes `num_train + num_test` scene videos `root/<name>.<extension>` (names
    `train_00000`, ..., `test_00000`, ...) and `root/ground_truth.pkl`; returns the ground truth
    (`jhmdb_ground_truth`, with the orbit classes as labels).

    Scene `train_i` is `make_scene(scene_labels(seed, i), ..., scene_rng(seed, i))`; test
    scenes use the indices after the training ones, so no test scene repeats a training one.
    Files are near-lossless (H.264 CRF 1 for mp4, MPEG-4 q 2 for avi); `workers` threads encode
    side by side (encoding runs outside the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from keras_video.data.encoding import write_video

    for name, value in (("num_train", num_train), ("num_test", num_test)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if num_train + num_test == 0:
        raise ValueError("no videos to write: num_train + num_test is 0")
    if not 1 <= max_objects <= MAX_OBJECTS:
        raise ValueError(f"max_objects must be 1 to {MAX_OBJECTS}, got {max_objects}")
    _check(num_frames, size)
    os.makedirs(root, exist_ok=True)
    names = [f"train_{i:05d}" for i in range(num_train)] + \
        [f"test_{i:05d}" for i in range(num_test)]

    def write(index):
        labels = scene_labels(seed, index, max_objects)
        frames, boxes = make_scene(labels, num_frames, size, scene_rng(seed, index))
        write_video(os.path.join(root, f"{names[index]}.{extension}"), frames, fps=fps)
        return names[index], (num_frames, (size, size), list(zip(labels, boxes)))

    bar = None
    if progress:
        bar = progress_bar(len(names), unit_name="video")
    videos = {}
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        for name, entry in pool.map(write, range(len(names))):
            videos[name] = entry
            if bar is not None:
                bar.add(1)
    truth = jhmdb_ground_truth(videos, train=names[:num_train], test=names[num_train:])
    with open(os.path.join(root, "ground_truth.pkl"), "wb") as f:
        pickle.dump(truth, f)
    return truth
