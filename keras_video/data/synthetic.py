"""A synthetic motion dataset whose class lies only in the motion, never in the appearance.

Each clip shows one textured shape (disc, square, triangle or cross) over a textured background.
There are twelve classes in two families.

Eight classes are four TIME-REVERSED PAIRS::

    move_left / move_right                 the object slides along x
    move_up / move_down                    the object slides along y
    rotate_clockwise / rotate_counterclockwise   the object turns about its centre
    approach / recede                      the object grows / shrinks (geometric scale sweep)

Four classes are ORBITS, the object circling a point, that play ONE SET OF FRAMES IN FOUR
ORDERS (`ORBIT_CLASSES`, the demo's)::

    orbit_clockwise / orbit_counterclockwise             one turn per clip
    orbit_clockwise_fast / orbit_counterclockwise_fast   three turns per clip

Every nuisance -- background texture and colours, camera jitter, pixel noise, object shape,
texture and colours, centre, travel distance, start angle, turn, scale range, orbit radius and
phase -- is drawn by one sampler that does not look at the class, always with the same draws in
the same order.

A pair's clip is rendered for its first member, and the second member is, exactly, that clip
played backwards; so for one generator state::

    make_clip("move_left", rng=np.random.default_rng(k))[::-1]
        == make_clip("move_right", rng=np.random.default_rng(k))      # bit for bit

and the time-reverse of a class-A clip is a class-B clip with the same probability. Every
nuisance is itself symmetric under time reversal (i.i.d. jitter and noise, no drift), so nothing
but the object's motion tells the two members of a pair apart, and a model that pools frame
features over time without order is at chance between them. Across pairs the sampler keeps the
per-frame statistics matched as far as the motions allow (one centre distribution, one
start-angle distribution, a non-zooming object drawn with the clip-average area of the zoom
sweep it would have had), but which one parameter varies within a clip -- position, angle or
scale -- still shows in the frames: an order-free model can tell the pairs apart.

The orbits close that gap. One orbit is rendered, the object at T evenly spaced angles of a
circle (frame t at `phase + 2 pi t / T`, clockwise on screen), and an orbit class plays those
same T frames in the order `(m * t) mod T` for its multiplier m of 1, -1, 3 or -3: one turn
clockwise or counter-clockwise, or three turns. For one generator state, and T not a multiple
of 3 (so that three turns play every frame once), the four clips hold the same frames, bit for
bit, noise and jitter included: no function of the set of frames can tell them apart. With a
power-of-two T every clip also starts on the same frame and has the same frames at the strided
positions 0, s, 2s, ... of any power-of-two stride s (m is odd), in the same order where the
stride leaves two frames: C2D on 16 frames keeps frames 0 and 8 and gets the identical input
from all four.

That matters for the pairs too: a network with temporal strides but no temporal kernels sees
frames 0 and 8 of a 16-frame clip, the start and the middle of the motion but not its end, and
learns the direction from where the object is (near the left edge: it is moving right; small:
it is approaching), and so tells most 16-frame clips from their reverse (docs/benchmarks.md,
"The demo"). With 2^k + 1 frames (9, 17, 33) it sees 0, 8, 16 ..., symmetric about the
centre.

Pixel coordinates are x right, y down; an angle increasing with time therefore turns clockwise on
screen. Generation is vectorised numpy, so that drawing clips costs little beside training
on them; TensorFlow is imported only by `synthetic_dataset` and Keras only for the progress
bar.
"""
import os
import zlib

import numpy as np

from keras_video.progress import bar as progress_bar

ORBIT_CLASSES = ("orbit_clockwise", "orbit_counterclockwise", "orbit_clockwise_fast",
                 "orbit_counterclockwise_fast")
MOTION_CLASSES = ("move_left", "move_right", "move_up", "move_down", "rotate_clockwise",
                  "rotate_counterclockwise", "approach", "recede") + ORBIT_CLASSES

# class name -> (motion rendered, order its frames are played in). "backward" is the rendered
# clip played backwards (a pair's second member); an int m plays frame (m * t) mod T at time t,
# so 1 is the rendered order and the orbits' -1, 3, -3 reorder one orbit's frames.
_MOTIONS = {
    "move_right": ("translate_x", 1), "move_left": ("translate_x", "backward"),
    "move_down": ("translate_y", 1), "move_up": ("translate_y", "backward"),
    "rotate_clockwise": ("rotate", 1), "rotate_counterclockwise": ("rotate", "backward"),
    "approach": ("zoom", 1), "recede": ("zoom", "backward"),
    "orbit_clockwise": ("orbit", 1), "orbit_counterclockwise": ("orbit", -1),
    "orbit_clockwise_fast": ("orbit", 3), "orbit_counterclockwise_fast": ("orbit", -3),
}
SHAPES = ("disc", "square", "triangle", "cross")
MIN_SIZE = 16
_EVEN_SIZE_CODECS = ("mpeg4", "libvpx-vp9", "libvpx")

# Nuisance ranges, as fractions of the frame size where they are lengths.
_RADIUS = (0.14, 0.21)        # mid-clip object "radius": the object spans about 1/4 to 1/2 of the frame
_TRAVEL = (0.40, 0.60)        # centre travel over a translating clip
_TURN = (0.6 * np.pi, 1.0 * np.pi)  # total turn over a rotating clip (< 1/8 turn per frame pair at T >= 9)
_ZOOM = (1.6, 2.2)            # radius ratio end / start over a zooming clip
_NOISE = (0.0, 0.03)          # pixel noise standard deviation (of [0, 1] intensities)
_ORBIT = (0.18, 0.28)         # orbit radius


def class_names(classes=MOTION_CLASSES):
    """Validates a sequence of class names (a subset of `MOTION_CLASSES`, no repeats)."""
    if isinstance(classes, str):
        raise TypeError(f"classes must be a sequence of names, not the string {classes!r}")
    classes = tuple(classes)
    if not classes:
        raise ValueError("classes is empty")
    for name in classes:
        if name not in _MOTIONS:
            raise ValueError(f"unknown motion class {name!r}; the classes are {MOTION_CLASSES}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes has repeated names: {classes}")
    return classes


def _class_name(label):
    if isinstance(label, str):
        class_names([label])
        return label
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
        raise TypeError(f"label must be a class name or an int index, got {label!r}")
    if not 0 <= label < len(MOTION_CLASSES):
        raise ValueError(f"label {label} is out of range: there are {len(MOTION_CLASSES)} classes "
                         f"{MOTION_CLASSES}")
    return MOTION_CLASSES[int(label)]


def _check_shape(num_frames, size, min_frames=2, min_size=MIN_SIZE, shown="motion"):
    """Clip shape arguments: ints, with at least `min_frames` frames for `shown` to show."""
    for name, value in (("num_frames", num_frames), ("size", size)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if num_frames < min_frames:
        raise ValueError(f"num_frames must be at least {min_frames} for {shown} to show, got "
                         f"{num_frames}")
    if size < min_size:
        raise ValueError(f"size must be at least {min_size} pixels, got {size}")


def _check_count(num_per_class):
    if isinstance(num_per_class, (bool, np.bool_)) or not isinstance(num_per_class, (int, np.integer)):
        raise TypeError(f"num_per_class must be an int, got {num_per_class!r}")
    if num_per_class < 1:
        raise ValueError(f"num_per_class must be at least 1, got {num_per_class}")


def _check_seed(seed):
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def clip_rng(seed, class_name, index):
    """The generator of clip `index` of `class_name` in `make_clips` / `synthetic_dataset` /
    `write_synthetic_videos` with `seed`: a clip does not depend on which other classes or how
    many clips are asked for."""
    _check_seed(seed)
    return np.random.default_rng([int(seed), zlib.crc32(class_name.encode()), int(index)])


def _sample(rng, num_frames, size):
    """Every random quantity of a clip, drawn in a fixed order whatever the class."""
    s = float(size)
    p = {}
    # Background: two colours mixed by three gratings (in pixels, so it stays put when the object
    # moves), on a canvas `jitter` pixels larger on each side for camera shake.
    base = rng.uniform(0.2, 0.8, 3)
    p["bg_colours"] = base, rng.uniform(-0.3, 0.3, 3)
    p["bg_gratings"] = (rng.uniform(1.5, 6.0, 3) * 2 * np.pi / s, rng.uniform(0, np.pi, 3),
                        rng.uniform(0, 2 * np.pi, 3))
    p["jitter"] = int(rng.integers(0, 2)) * max(1, int(round(size / 32)))
    p["offsets"] = rng.integers(-p["jitter"], p["jitter"] + 1, (num_frames, 2))
    p["noise"] = rng.uniform(*_NOISE)
    p["noise_field"] = rng.standard_normal((num_frames, size, size), dtype=np.float32)
    # Object: shape; a colour whose brightness is well away from the background's; a texture of
    # two gratings in object coordinates (it turns and scales with the object).
    p["shape"] = SHAPES[int(rng.integers(len(SHAPES)))]
    brightness = base.mean() + rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 0.45)
    if not 0.05 <= brightness <= 0.95:  # no room on that side: the other side
        brightness = 2 * base.mean() - brightness
    tint = rng.uniform(-0.25, 0.25, 3)
    p["obj_colour"] = np.clip(brightness + tint - tint.mean(), 0, 1)
    p["obj_contrast"] = rng.uniform(0.3, 0.45)
    p["obj_gratings"] = (rng.uniform(1.0, 2.0, 2) * np.pi, rng.uniform(0, np.pi, 2),
                         rng.uniform(0, 2 * np.pi, 2))
    # Geometry: the mid-clip radius, travel, turn and zoom are all drawn for every class.
    p["radius"] = rng.uniform(*_RADIUS) * s
    p["travel"] = rng.uniform(*_TRAVEL) * s
    p["turn"] = rng.uniform(*_TURN)
    p["zoom"] = np.log(rng.uniform(*_ZOOM))
    p["angle"] = rng.uniform(0, 2 * np.pi)
    margin = min(p["radius"] + p["travel"] / 2, 0.48 * s)
    p["centre"] = rng.uniform(margin, s - margin, 2)
    # Drawn last, so that adding the orbits left every other class's clips as they were.
    p["orbit_radius"] = rng.uniform(*_ORBIT) * s
    margin = min(p["radius"] + p["orbit_radius"], 0.48 * s)
    p["orbit_centre"] = rng.uniform(margin, s - margin, 2)
    p["phase"] = rng.uniform(0, 2 * np.pi)
    return p


def _trajectory(kind, p, num_frames):
    """Per-frame centre x, y, angle and radius of the object, forward in time."""
    tau = (np.arange(num_frames) - (num_frames - 1) / 2) / (num_frames - 1)  # -1/2 ... 1/2
    ones = np.ones(num_frames)
    cx, cy = p["centre"][0] * ones, p["centre"][1] * ones
    angle = p["angle"] * ones
    # A non-zooming object has the radius whose area is the zoom sweep's mean area.
    radius = p["radius"] * np.sqrt(np.mean(np.exp(2 * p["zoom"] * tau))) * ones
    if kind == "translate_x":
        cx = cx + p["travel"] * tau
    elif kind == "translate_y":
        cy = cy + p["travel"] * tau
    elif kind == "rotate":
        angle = angle + p["turn"] * tau
    elif kind == "orbit":  # one turn: frame T would be frame 0 again
        theta = p["phase"] + 2 * np.pi * np.arange(num_frames) / num_frames
        cx = p["orbit_centre"][0] + p["orbit_radius"] * np.cos(theta)
        cy = p["orbit_centre"][1] + p["orbit_radius"] * np.sin(theta)
    else:  # zoom
        radius = p["radius"] * np.exp(p["zoom"] * tau)
    return cx, cy, angle, radius


# The farthest point of each shape from its centre, in object units.
_EXTENT = {"disc": 1.0, "square": 0.85 * np.sqrt(2), "triangle": 1.4, "cross": np.hypot(1.0, 0.35)}


def _shape_distance(shape, u, v):
    """An approximate signed distance to the shape's edge in object units (negative inside)."""
    if shape == "disc":
        return np.sqrt(u * u + v * v) - 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) - 0.85
    if shape == "triangle":  # equilateral, inradius 0.7, a vertex pointing along -v
        half = np.float32(np.sqrt(3) / 2)
        return np.maximum(np.maximum(v, -half * u - 0.5 * v), half * u - 0.5 * v) - 0.7
    u, v = np.abs(u), np.abs(v)  # cross
    return np.minimum(np.maximum(u - 1.0, v - 0.35), np.maximum(u - 0.35, v - 1.0))


def _gratings(x, y, gratings):
    """The mean of cosine gratings, in [-1, 1]."""
    frequencies, orientations, phases = gratings
    total = 0.0
    for k, theta, phase in zip(frequencies, orientations, phases):
        total = total + np.cos(np.float32(k * np.cos(theta)) * x + np.float32(k * np.sin(theta)) * y
                               + np.float32(phase))
    return total * np.float32(1 / len(frequencies))


def _render(kind, p, num_frames, size, return_mask=False):
    """uint8 frames `(T, H, W, 3)` and, with `return_mask`, the object's alpha `(T, H, W)`.

    Everything is in [0, 255] + 0.5 so that the final cast rounds. The object is rendered only in
    a box `(T, B, B)` that follows it (inverse mapping of every box pixel into object coordinates)
    and pasted into the frames.
    """
    f32 = np.float32
    jitter = p["jitter"]
    grid = np.arange(size + 2 * jitter, dtype=f32) + f32(0.5 - jitter)
    base, delta = p["bg_colours"]
    mix = _gratings(grid[None, :], grid[:, None], p["bg_gratings"])
    canvas = (255 * base + 0.5).astype(f32) + mix[..., None] * (255 * delta).astype(f32)
    frames = np.empty((num_frames, size, size, 3), f32)
    for t, (dx, dy) in enumerate(p["offsets"]):
        np.add(canvas[jitter + dy:jitter + dy + size, jitter + dx:jitter + dx + size],
               (f32(255 * p["noise"]) * p["noise_field"][t])[..., None], out=frames[t])

    cx, cy, angle, radius = _trajectory(kind, p, num_frames)
    box = int(min(size, np.ceil(2 * _EXTENT[p["shape"]] * radius.max()) + 3))
    x0 = np.clip(np.floor(cx - box / 2).astype(int), 0, size - box)
    y0 = np.clip(np.floor(cy - box / 2).astype(int), 0, size - box)
    steps = np.arange(box, dtype=f32) + f32(0.5)
    column = lambda a: a.astype(f32)[:, None, None]  # noqa: E731
    dx = (column(x0) - column(cx)) + steps[None, None, :]  # (T, 1, B)
    dy = (column(y0) - column(cy)) + steps[None, :, None]  # (T, B, 1)
    cos, sin, scale = column(np.cos(angle)), column(np.sin(angle)), column(1 / radius)
    u = (cos * scale) * dx + (sin * scale) * dy
    v = (cos * scale) * dy - (sin * scale) * dx
    alpha = np.clip(f32(0.5) - _shape_distance(p["shape"], u, v) * column(radius), 0, 1)
    # The texture moves the colour towards grey and away from it, keeping the object distinct.
    colour = p["obj_colour"]
    direction = np.where(colour > 0.5, -1.0, 1.0) * 255 * p["obj_contrast"]
    shade = _gratings(u, v, p["obj_gratings"])
    rows = np.arange(num_frames)[:, None, None]
    ys, xs = y0[:, None, None] + np.arange(box)[None, :, None], x0[:, None, None] + np.arange(box)
    patch = frames[rows, ys, xs]
    obj = (255 * colour + 0.5).astype(f32) + shade[..., None] * direction.astype(f32)
    patch += alpha[..., None] * (obj - patch)
    frames[rows, ys, xs] = patch
    clip = np.clip(frames, 0, 255, out=frames).astype(np.uint8)
    if not return_mask:
        return clip, None
    mask = np.zeros((num_frames, size, size), f32)
    mask[rows, ys, xs] = alpha
    return clip, mask


def make_clip(label, num_frames=16, size=64, rng=None, *, return_mask=False):
    """One clip of motion class `label` (a name of `MOTION_CLASSES` or an index into it):
    uint8 `(num_frames, size, size, 3)`.

    `rng` is a `np.random.Generator`, an int seed or None (fresh entropy). `return_mask=True`
    also returns the object's float32 alpha mask `(num_frames, size, size)` in [0, 1], for tests
    and visualisation.
    """
    name = _class_name(label)
    _check_shape(num_frames, size)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    kind, order = _MOTIONS[name]
    clip, mask = _render(kind, _sample(rng, num_frames, size), num_frames, size, return_mask)
    t = np.arange(num_frames)
    frames = t[::-1] if order == "backward" else (order * t) % num_frames
    clip = clip[frames]  # indexing copies: a contiguous clip
    mask = None if mask is None else mask[frames]
    return (clip, mask) if return_mask else clip


def _clip_order(num_per_class, classes, seed):
    """(label, class name, index within class) of every clip, shuffled with `seed`."""
    rows = [(label, name, index) for label, name in enumerate(classes)
            for index in range(num_per_class)]
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i] for i in order]


def _iter_clips(num_per_class, num_frames, size, classes, seed):
    for label, name, index in _clip_order(num_per_class, classes, seed):
        yield make_clip(name, num_frames, size, clip_rng(seed, name, index)), label


def _check_all(num_per_class, num_frames, size, classes, seed):
    _check_count(num_per_class)
    _check_shape(num_frames, size)
    _check_seed(seed)
    return class_names(classes)


def make_clips(num_per_class, num_frames=16, size=64, classes=MOTION_CLASSES, seed=0):
    """`num_per_class` clips of each of `classes`, shuffled (deterministically for `seed`):
    uint8 clips `(N, num_frames, size, size, 3)` and int32 labels `(N,)` indexing `classes`."""
    classes = _check_all(num_per_class, num_frames, size, classes, seed)
    count = num_per_class * len(classes)
    clips = np.empty((count, num_frames, size, size, 3), np.uint8)
    labels = np.empty(count, np.int32)
    for i, (clip, label) in enumerate(_iter_clips(num_per_class, num_frames, size, classes, seed)):
        clips[i], labels[i] = clip, label
    return clips, labels


def synthetic_dataset(num_per_class, num_frames=16, size=64, classes=MOTION_CLASSES, seed=0):
    """The clips of `make_clips` (same order) as a `tf.data.Dataset` of `(clip uint8
    (num_frames, size, size, 3), label int32)`, generated lazily: every iteration yields the same
    clips, so shuffle / repeat / batch it as a fixed dataset."""
    import tensorflow as tf

    classes = _check_all(num_per_class, num_frames, size, classes, seed)
    signature = (tf.TensorSpec((num_frames, size, size, 3), tf.uint8), tf.TensorSpec((), tf.int32))
    dataset = tf.data.Dataset.from_generator(
        lambda: ((clip, np.int32(label)) for clip, label in
                 _iter_clips(num_per_class, num_frames, size, classes, seed)),
        output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(num_per_class * len(classes)))


def write_synthetic_videos(root, num_per_class, num_frames=16, size=64, fps=16,
                           classes=MOTION_CLASSES, formats=("mp4", "avi"), seed=0, progress=True,
                           workers=None):
    """Writes real video files `root/<class>/<class>_<index:04d>.<ext>`, the extension cycling
    through `formats` with the index (mp4: H.264, avi: MPEG-4 Part 2, near-lossless), and returns
    their paths. File `<class>_<i>` holds `make_clip(class, num_frames, size,
    clip_rng(seed, class, i))`, the same clip as in `make_clips` with `seed`. `workers` threads
    (default: one per CPU) write files side by side: encoding runs outside the GIL."""
    from concurrent.futures import ThreadPoolExecutor

    from keras_video.data.encoding import DEFAULT_CODECS, write_video

    classes = _check_all(num_per_class, num_frames, size, classes, seed)
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(str(f).lower().lstrip(".") for f in formats)
    if not formats:
        raise ValueError("formats is empty")
    for fmt in formats:
        codec = DEFAULT_CODECS.get("." + fmt)
        if codec is None:
            raise ValueError(f"unsupported video format {fmt!r}; use one of "
                             f"{tuple(k.lstrip('.') for k in DEFAULT_CODECS)}")
        if size % 2 and codec in _EVEN_SIZE_CODECS:
            raise ValueError(f"{fmt} ({codec}) needs an even frame size, got size={size}")
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    bar = None
    if progress:
        bar = progress_bar(num_per_class * len(classes), unit_name="video")
    jobs = []
    for name in classes:
        folder = os.path.join(os.fspath(root), name)
        os.makedirs(folder, exist_ok=True)
        jobs += [(os.path.join(folder, f"{name}_{index:04d}.{formats[index % len(formats)]}"),
                  name, index) for index in range(num_per_class)]

    def write(job):
        path, name, index = job
        write_video(path, make_clip(name, num_frames, size, clip_rng(seed, name, index)), fps=fps)
        return path

    paths = []
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        for path in pool.map(write, jobs):
            paths.append(path)
            if bar is not None:
                bar.add(1)
    return paths
