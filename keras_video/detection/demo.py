"""`keras-video demo --task detection`: action detection on data where the action shows only
over time.

It writes the synthetic detection scenes (`keras_video.detection.synthetic`: one or two objects
per video, each on an orbit whose class is the order its positions are played in) as real
video files with a JHMDB-layout ground truth, trains the same detector on S3D-G and on the
frame-level C2D with the same data, recipe and budget, and evaluates both on held-out videos:
frame-mAP@0.5 on every frame, video-mAP of linked tubes, per-class APs. Where the actors are
shows in every frame, so both can localise; what they do does not, so C2D's classes are at
chance and its frame-mAP stays near the share of each class.
"""
import contextlib
import json
import os
import sys
import tempfile
import time

from keras_video.data.synthetic import ORBIT_CLASSES

# 8 frames of 64 x 64: one orbit period per video (the video loops, and clips wrap around);
# the classifier reads Mixed_4f (stride 16: 4 x 4 cells), where C2D's temporal strides leave
# it clip frames 0 and 4, an object at two opposite points of its orbit in every class. The
# localisation head reads Mixed_3c (stride 8): the objects are 10 to 14 pixels across, too
# small for the stride-16 map to centre them (docs/benchmarks.md, "Action detection demo").
# The recipe is the classification demo's (AdamW 1e-2, BatchNorm momentum 0.9, width 0.125),
# without flips (a mirrored orbit turns the other way), for 4 epochs: with 3, S3D-G had not
# learned every orbit's direction on every seed (docs/benchmarks.md).
DEMO = dict(frames=8, size=64, train_videos=300, test_videos=50, epochs=4, batch_size=16,
            width_multiplier=0.125, min_width=8, bn_momentum=0.9, learning_rate=1e-2,
            weight_decay=0.05, warmup_epochs=0.5, max_boxes=4, roi_size=4, dropout_rate=0.0,
            localization_layer="Mixed_3c", localization_upsampling=1, scale=(0.8, 1.0),
            link_method="viterbi", seed=0)


def _log(message):
    print(message, file=sys.stderr, flush=True)


def train_and_evaluate(backbone, truth, video_root, settings):
    """Builds the demo's detector on `backbone`, trains it on the training videos and
    evaluates it on the test videos; returns (model, history, report, training seconds)."""
    import keras

    from keras_video.detection import model as model_lib
    from keras_video.detection import pipeline, training

    keras.utils.set_random_seed(settings["seed"])
    s = settings
    detector = model_lib.action_detector(
        backbone, classes=len(truth["labels"]), input_shape=(s["frames"], s["size"], s["size"], 3),
        max_boxes=s["max_boxes"], roi_size=s["roi_size"], dropout_rate=s["dropout_rate"],
        localization_layer=s["localization_layer"],
        localization_upsampling=s["localization_upsampling"],
        width_multiplier=s["width_multiplier"], min_width=s["min_width"],
        bn_momentum=s["bn_momentum"])
    samples = pipeline.samples_from_ground_truth(truth, video_root, "train")
    begin = time.perf_counter()
    history = training.fit_detector(
        detector, samples, num_frames=s["frames"], size=s["size"], epochs=s["epochs"],
        batch_size=s["batch_size"], edge="loop", scale=tuple(s["scale"]),
        flip=False,  # a mirrored clockwise orbit is a counter-clockwise one
        cache=True, learning_rate=s["learning_rate"], weight_decay=s["weight_decay"],
        warmup_epochs=s["warmup_epochs"], seed=s["seed"])
    seconds = time.perf_counter() - begin
    # A fast orbit moves an object by about its own size per frame (consecutive boxes overlap
    # by IoU 0.1 at the median): linking by overlap (ACT's, at any threshold) breaks its
    # tubes, the Viterbi linking (score plus overlap) follows it.
    report = training.evaluate_detector(detector, truth, video_root, num_frames=s["frames"],
                                        size=s["size"], edge="loop", batch_size=32,
                                        link={"method": s["link_method"]})
    return detector, history, report, seconds


def run(workdir=None, settings=None, verbose=True):
    """Runs the demo; returns its results (the `--json` object): `s3dg_frame_map`,
    `c2d_frame_map`, `seconds`, the video-mAPs, per-class APs and training seconds."""
    from keras_video.detection import synthetic

    settings = {**DEMO, **(settings or {})}
    start = time.perf_counter()
    workdir = workdir or tempfile.mkdtemp(prefix="keras-video-detection-demo-")
    say = _log if verbose else (lambda message: None)
    video_root = os.path.join(workdir, "videos")
    say(f"[1/3] writing {settings['train_videos']} + {settings['test_videos']} synthetic "
        f"detection videos to {video_root}")
    truth = synthetic.write_detection_videos(
        video_root, settings["train_videos"], settings["test_videos"],
        num_frames=settings["frames"], size=settings["size"], seed=settings["seed"])
    result = {}
    for step, name in enumerate(("s3dg", "c2d"), start=2):
        say(f"[{step}/3] training and evaluating the {name} detector ({settings['epochs']} "
            "epochs)")
        detector, history, report, seconds = train_and_evaluate(name, truth, video_root,
                                                                settings)
        result[f"{name}_frame_map"] = report["frame_mAP@0.5"]
        result[f"{name}_video_map"] = report["video_mAP@0.5"]
        result[f"{name}_per_class"] = report["per_class"]
        result[f"{name}_train_seconds"] = seconds
        result[f"{name}_params"] = detector.count_params()
        result[f"{name}_final_loss"] = history.history["loss"][-1]
        with open(os.path.join(workdir, f"report_{name}.json"), "w") as f:
            json.dump(report, f, indent=1)
    result.update(classes=list(truth["labels"]), test_videos=settings["test_videos"],
                  chance_class_share=1 / len(ORBIT_CLASSES), workdir=workdir,
                  seconds=time.perf_counter() - start)
    return result


def print_table(result, file=sys.stdout):
    print(f"\nSynthetic orbit scenes, {result['test_videos']} held-out videos, "
          f"{len(result['classes'])} classes (frame-mAP@0.5 on every frame)\n", file=file)
    print(f"{'detector':34s} {'frame-mAP':>9s} {'video-mAP':>9s} {'params':>9s} {'train s':>8s}",
          file=file)
    for title, key in (("S3D-G (separable 3D + gating)", "s3dg"),
                       ("C2D (frame-level 2D baseline)", "c2d")):
        print(f"{title:34s} {result[key + '_frame_map']:9.3f} {result[key + '_video_map']:9.3f} "
              f"{result[key + '_params']:9,d} {result[key + '_train_seconds']:8.0f}", file=file)
    print(f"\ntotal {result['seconds']:.0f} s; reports in {result['workdir']}", file=file)


def main(as_json=False, workdir=None, settings=None):
    # Keras prints progress on stdout; stdout is the result alone.
    with contextlib.redirect_stdout(sys.stderr):
        result = run(workdir=workdir, settings=settings)
    if as_json:
        print(json.dumps(result))
    else:
        print_table(result)
    return result
