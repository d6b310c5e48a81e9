"""Training and evaluating the action detector: `model.fit` on `pipeline` datasets with the
classifiers' optimizers and schedules, detections on every key frame of the test videos, and
the frame-mAP / video-mAP report of `keras_video.detection.metrics`.

Detections are the rows the metrics take: `(video index into test_videos[split], frame
(1-based), label index, score, x1, y1, x2, y2)` in the ground truth's pixels. Each box the
detector returns gives one row per class, scored `scores * probabilities[..., c]` (the actor
score times the class probability), as ACT and MOC score their per-class detections.
"""
import time

import keras
import numpy as np
import tensorflow as tf

from keras_video.detection import pipeline
from keras_video.detection.model import OUTPUTS

OPTIMIZERS = ("adamw", "sgd", "adam")


def learning_rate_schedule(learning_rate, total_steps, warmup_steps=0):
    """Linear warm-up from 0 over `warmup_steps` into a cosine decay to 0 at `total_steps`
    (the classification recipes' "cosine" schedule)."""
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(f"warm-up ({warmup_steps} steps) must be shorter than the run "
                         f"({total_steps} steps)")
    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    return keras.optimizers.schedules.CosineDecay(0.0, total_steps - warmup_steps,
                                                  warmup_target=learning_rate,
                                                  warmup_steps=warmup_steps)


def compile_detector(model, *, epochs, steps_per_epoch, learning_rate=1e-3, weight_decay=1e-4,
                     optimizer="adamw", momentum=0.9, warmup_epochs=0.0, clipnorm=None,
                     jit_compile=False):
    """Compiles `model` with Keras's "adamw", "sgd" (with `momentum`) or "adam" on a cosine
    schedule with linear warm-up over `warmup_epochs` (`learning_rate_schedule`), weight decay
    decoupled as in the classification recipes. XLA is off by default: it compiles these
    graphs for longer than it saves on CPU.

    `keras_video.detection` sits beside `keras_video.training` in the package's layers, so it
    uses Keras's optimizers rather than that package's (which evaluate the schedule once per
    step for weight decay instead of once per variable)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    steps = int(steps_per_epoch)
    schedule = learning_rate_schedule(float(learning_rate), int(epochs) * steps,
                                      int(round(warmup_epochs * steps)))
    common = dict(learning_rate=schedule, global_clipnorm=clipnorm)
    if optimizer == "sgd":
        opt = keras.optimizers.SGD(momentum=momentum, weight_decay=weight_decay or None,
                                   **common)
    elif optimizer == "adamw":
        opt = keras.optimizers.AdamW(weight_decay=weight_decay or 0.0, **common)
    else:
        opt = keras.optimizers.Adam(**common)
    model.compile(optimizer=opt, jit_compile=jit_compile)
    return model


def build_before_fit(model, element_spec):
    """Creates the variables `fit` needs (layers, metrics, optimizer slots) from the dataset's
    element spec before `fit`: left to `fit`, they are created inside the first trace of the
    train step and TensorFlow traces the step a second time (the classification trainer does
    the same; docs/benchmarks.md, "Training steps")."""
    model._symbolic_build(data_batch=tf.nest.map_structure(
        lambda spec: tf.TensorSpec([None] + spec.shape[1:], spec.dtype), element_spec))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def detection_rows(outputs, samples, ids, videos, min_score=1e-4):
    """The metrics' rows from `predict` outputs (`boxes`, `scores`, `probabilities` per sample)
    of the samples at rows `ids` of `samples`; `videos` is the split's test video list (the
    row's first column indexes it). Rows scoring below `min_score` are left out."""
    position = {name: i for i, name in enumerate(videos)}
    missing = {samples.videos[i] for i in ids} - set(position)
    if missing:
        raise ValueError(f"{len(missing)} samples' videos are not in the test videos, e.g. "
                         f"{sorted(missing)[0]!r}")
    boxes, scores, probabilities = (np.asarray(outputs[k]) for k in OUTPUTS)
    rows = []
    for n, i in enumerate(ids):
        height, width = samples.frame_sizes[i]
        pixels = boxes[n] * np.array([width, height, width, height], np.float32)
        score = scores[n][:, None] * probabilities[n]  # (K, classes)
        box, label = np.nonzero(score >= min_score)
        if not len(box):
            continue
        rows.append(np.column_stack([
            np.full(len(box), position[samples.videos[i]]),
            np.full(len(box), samples.key_frames[i] + 1), label, score[box, label],
            pixels[box]]))
    return np.concatenate(rows) if rows else np.zeros((0, 8))


def detect(model, samples, videos, *, num_frames, size, stride=1, edge="pad", batch_size=8,
           cache=False, min_score=1e-4, proposals=False):
    """Runs `model` on every sample of `samples` (key frames of test videos, e.g.
    `pipeline.samples_from_ground_truth(..., subset="test")`) and returns the detection rows
    (`detection_rows`). `proposals`: the samples' external proposals go in with the clips."""
    dataset = pipeline.detection_dataset(
        samples, num_frames=num_frames, stride=stride, size=size, training=False,
        max_boxes=model.max_boxes, multi_label=model.multi_label, batch_size=batch_size,
        edge=edge, cache=cache, with_proposals=proposals, with_ids=True, deterministic=True,
        strict=True)
    outputs = {key: [] for key in OUTPUTS}
    ids = []
    for x, _, index in dataset:
        result = model.predict_on_batch(x)
        for key in outputs:
            outputs[key].append(np.asarray(result[key]))
        ids.append(index.numpy())
    outputs = {key: np.concatenate(value) for key, value in outputs.items()}
    return detection_rows(outputs, samples, np.concatenate(ids), videos, min_score)


def evaluate_detector(model, ground_truth, video_root, *, num_frames, size, split=0, stride=1,
                      edge="pad", batch_size=8, key_frame_step=1, extension=None,
                      link=None, proposals=None):
    """The report papers give for JHMDB-21 / UCF101-24 (`metrics.detection_report`:
    frame-mAP@0.5, video-mAP@0.2, @0.5 and @0.5:0.95, per-class APs) of `model` on the test
    videos of `split`, with the seconds it took. Tubes are linked with `tubes.link_tubes`
    (keywords `link`; its `min_length` is capped at the shortest test video)."""
    from keras_video.detection import metrics, tubes

    truth = ground_truth.to_dict() if hasattr(ground_truth, "to_dict") else ground_truth
    begin = time.perf_counter()
    samples = pipeline.samples_from_ground_truth(truth, video_root, "test", split,
                                                 extension=extension,
                                                 key_frame_step=key_frame_step)
    if proposals is not None:
        samples.proposals = proposals
        samples.validate()
    videos = list(truth["test_videos"][split])
    rows = detect(model, samples, videos, num_frames=num_frames, size=size, stride=stride,
                  edge=edge, batch_size=batch_size, proposals=proposals is not None)
    shortest = min(int(truth["nframes"][v]) for v in videos)
    link = {"min_length": min(15, shortest), **(link or {})}
    report = metrics.detection_report(truth, rows, tubes.link_tubes(rows, **link), split)
    report["detections"] = int(len(rows))
    report["seconds"] = time.perf_counter() - begin
    return report


def fit_detector(model, samples, *, num_frames, size, epochs, batch_size=8, stride=1,
                 edge="pad", scale=(0.6, 1.0), flip=True, min_visible=0.25, cache=False,
                 learning_rate=1e-3, weight_decay=1e-4, optimizer="adamw", warmup_epochs=0.0,
                 clipnorm=None, steps_per_epoch=None, seed=0, callbacks=(), verbose=0):
    """Compiles (`compile_detector`) and fits `model` on the training `samples` for `epochs`
    (each `steps_per_epoch` batches, default one pass over the samples); returns the History.
    `flip=False` for data where a mirror changes the action (the synthetic orbits' direction,
    Something-Something's "left to right")."""
    steps = steps_per_epoch or max(1, len(samples) // batch_size)
    dataset = pipeline.detection_dataset(
        samples, num_frames=num_frames, stride=stride, size=size, training=True,
        max_boxes=model.max_boxes, multi_label=model.multi_label, batch_size=batch_size,
        scale=scale, flip=flip, min_visible=min_visible, edge=edge, repeat=True,
        drop_remainder=True, seed=seed, cache=cache,
        with_proposals=model.proposals == "external")
    compile_detector(model, epochs=epochs, steps_per_epoch=steps, learning_rate=learning_rate,
                     weight_decay=weight_decay, optimizer=optimizer,
                     warmup_epochs=warmup_epochs, clipnorm=clipnorm)
    # Variables built before fit: else fit traces its first step twice (docs/benchmarks.md).
    build_before_fit(model, dataset.element_spec)
    return model.fit(dataset, epochs=epochs, steps_per_epoch=steps, callbacks=list(callbacks),
                     shuffle=False,  # the dataset shuffles itself; Keras warns it ignores True
                     verbose=verbose)


# --- recipes ----------------------------------------------------------------------------------
# A detection recipe (keras_video/recipes/detection/*.yaml): the sections and keys it may
# hold, and their defaults. `model` goes to `action_detector`, `train` to `fit_detector`.
RECIPE_DEFAULTS = {
    "model": {"backbone": "s3dg", "weights": None, "kwargs": {}},
    "data": {"ground_truth": None, "video_root": None, "split": 0, "extension": None,
             "num_frames": 16, "stride": 1, "size": 224, "edge": "pad",
             "empty_frames": "keep", "key_frame_step": 1, "scale": [0.6, 1.0], "flip": True,
             "min_visible": 0.25, "cache": False},
    "train": {"epochs": 10, "batch_size": 8, "steps_per_epoch": None, "optimizer": "adamw",
              "learning_rate": 1e-3, "weight_decay": 1e-4, "warmup_epochs": 0.0,
              "clipnorm": None, "seed": 0},
    "evaluation": {"key_frame_step": 1, "batch_size": 8, "link": {}},
}
RECIPE_FOLDER = "detection"  # beside the classification recipes, which another schema reads


def load_recipe(name_or_path, overrides=None):
    """A detection recipe: a packaged one's name (`s3dg_jhmdb_split1`: the file
    `keras_video/recipes/detection/<name>.yaml`) or a YAML file, with the defaults of
    `RECIPE_DEFAULTS` filled in and `overrides` (`{"train.epochs": 2}`) applied. Unknown
    sections or keys raise, naming them."""
    import os

    import yaml

    from keras_video import recipes

    path = os.fspath(name_or_path)
    if not os.path.isfile(path):
        packaged = os.path.join(recipes.FOLDER, RECIPE_FOLDER, path + ".yaml")
        if not os.path.isfile(packaged):
            names = sorted(f[:-5] for f in os.listdir(os.path.dirname(packaged))
                           if f.endswith(".yaml"))
            raise FileNotFoundError(f"no detection recipe {path!r}: neither a file nor a "
                                    f"packaged one ({', '.join(names)})")
        path = packaged
    with open(path, encoding="utf-8") as f:
        given = yaml.safe_load(f) or {}
    if not isinstance(given, dict) or given.pop("task", "detection") != "detection":
        raise ValueError(f"{path} is not a detection recipe (task: detection)")
    recipe = {section: dict(values) for section, values in RECIPE_DEFAULTS.items()}
    for section, values in list(given.items()) + [
            (key.split(".", 1)[0], {key.split(".", 1)[1]: value})
            for key, value in (overrides or {}).items() if "." in key]:
        if section not in recipe or not isinstance(values, dict):
            raise ValueError(f"{path}: unknown section {section!r}; the sections are "
                             f"{sorted(recipe)}")
        unknown = set(values) - set(RECIPE_DEFAULTS[section])
        if unknown:
            raise ValueError(f"{path}: unknown {section} keys {sorted(unknown)}; the keys "
                             f"are {sorted(RECIPE_DEFAULTS[section])}")
        recipe[section].update(values)
    bad = [key for key in (overrides or {}) if "." not in key]
    if bad:
        raise ValueError(f"overrides are section.key, got {bad}")
    for key in ("ground_truth", "video_root"):
        if not recipe["data"][key]:
            raise ValueError(f"{path}: data.{key} is required")
    recipe["path"] = path
    return recipe


def train_recipe(recipe, out):
    """Trains the detector of `recipe` (`load_recipe`'s, or a name / file) on the training
    videos of its split, evaluates it on the test videos and writes to the folder `out`:
    `detector/` (a preset directory, `keras-video detect --model out/detector`), `report.json`
    (`evaluate_detector`'s) and `recipe.yaml` (the recipe as run). Returns the report."""
    import json
    import os

    import yaml

    from keras_video import presets
    from keras_video.detection.ground_truth import read_ground_truth
    from keras_video.detection.model import action_detector

    recipe = recipe if isinstance(recipe, dict) else load_recipe(recipe)
    m, d, t, e = (recipe[k] for k in ("model", "data", "train", "evaluation"))
    truth = read_ground_truth(d["ground_truth"])
    keras.utils.set_random_seed(int(t["seed"]))
    model = action_detector(m["backbone"], classes=len(truth.labels),
                            input_shape=(d["num_frames"], d["size"], d["size"], 3),
                            weights=m["weights"], **m["kwargs"])
    train = pipeline.samples_from_ground_truth(truth.to_dict(), d["video_root"], "train",
                                               d["split"], extension=d["extension"],
                                               key_frame_step=d["key_frame_step"],
                                               empty_frames=d["empty_frames"])
    fit_detector(model, train, num_frames=d["num_frames"], size=d["size"], stride=d["stride"],
                 edge=d["edge"], scale=tuple(d["scale"]), flip=d["flip"],
                 min_visible=d["min_visible"], cache=d["cache"], **t)
    report = evaluate_detector(model, truth, d["video_root"], num_frames=d["num_frames"],
                               size=d["size"], split=d["split"], stride=d["stride"],
                               edge=d["edge"], batch_size=e["batch_size"],
                               key_frame_step=e["key_frame_step"], extension=d["extension"],
                               link=e["link"])
    os.makedirs(out, exist_ok=True)
    presets.save(model, os.path.join(out, "detector"), class_names=list(truth.labels),
                 overwrite=True, evaluation=f"trained by {os.path.basename(recipe['path'])}",
                 frame_stride=d["stride"])
    with open(os.path.join(out, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out, "recipe.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(recipe, f, sort_keys=False)
    return report
