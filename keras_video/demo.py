"""`keras-video demo`: the paper's point, shown on data where it must hold.

It writes the synthetic motion dataset as real video files (mp4 and avi), trains a small S3D-G
and the frame-level C2D baseline with the same pipeline, recipe and budget, evaluates both at
video level on held-out videos, exports the S3D-G as a TF Serving SavedModel and classifies one
generated video file with the reloaded SavedModel. The classes are orbits that play one set of
frames in different orders, so a frame-level model is at chance whatever it learns.
"""
import os
import sys
import tempfile
import time

from keras_video.data.synthetic import ORBIT_CLASSES

# The four orbit classes: one set of frames played in four orders (one or three turns, clockwise
# or not), so that any model that looks at frames without their order -- C2D among them -- is
# exactly at chance, and only temporal modelling can do better (keras_video.data.synthetic).
# 16 frames, a power of two: C2D's temporal strides keep frames 0 and 8, the same two frames in
# every orbit class.
# Sized to a few minutes on 2 CPU cores: 8 epochs of 400 videos per class, batch 32, width
# 0.125 (it learns faster per step than width 0.25, and each step costs less). The
# decoded clips are cached in the work folder, so the second model trains without decoding.
# AdamW, not SGD: with SGD (0.1, Nesterov) a run stays at chance for a random number of epochs
# before it takes off; AdamW takes off within two epochs with every seed tried. Its rate is
# 1e-2: at 5e-3 the orbits' speed (one turn against three) is still being learned after 8
# epochs.
# BatchNorm momentum 0.9, not Keras' 0.99: in a few hundred steps the network changes faster than
# a 100-step average follows, and the inference-mode statistics lag behind it.
# docs/benchmarks.md ("The demo") has the measurements; benchmarks/demo_recipe.py reruns them.
DEMO = dict(frames=16, size=32, train_per_class=400, test_per_class=50, epochs=8, batch_size=32,
            width_multiplier=0.125, min_width=8, bn_momentum=0.9, learning_rate=1e-2,
            weight_decay=0.05, classes=ORBIT_CLASSES)


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _recipe(name, model, train_dir, output_dir, settings, cache, fit_verbose=0):
    return {
        "name": name,
        "model": {"name": model, "kwargs": {
            "width_multiplier": settings["width_multiplier"], "min_width": settings["min_width"],
            "bn_momentum": settings["bn_momentum"], "dropout_rate": 0.0}},
        "data": {"source": "directory", "train": {"root": train_dir},
                 "num_frames": settings["frames"], "stride": 1,
                 "crop_size": settings["size"], "scale_jitter": None,
                 "flip": False,  # a mirrored move_left is a move_right
                 # Each video is one clip: both models read the clips decoded once.
                 "cache": cache},
        "batch_size": settings["batch_size"], "epochs": settings["epochs"],
        "optimizer": {"name": "adamw", "learning_rate": settings["learning_rate"],
                      "weight_decay": settings["weight_decay"]},
        "schedule": {"name": "cosine", "warmup_epochs": 0.5},
        # Graph mode: XLA compiles these small models for longer than it saves
        # (docs/benchmarks.md, "The demo").
        "jit_compile": False, "output_dir": output_dir, "seed": 0, "verbose": fit_verbose,
    }


def write_videos(workdir, settings, progress=True):
    """Writes the training and held-out videos under `workdir/videos`; returns the training
    folder and the held-out `VideoList`."""
    from keras_video import data

    train_dir, test_dir = (os.path.join(workdir, "videos", part) for part in ("train", "test"))
    common = dict(num_frames=settings["frames"], size=settings["size"],
                  classes=settings["classes"], progress=progress)
    data.write_synthetic_videos(train_dir, settings["train_per_class"], seed=0, **common)
    data.write_synthetic_videos(test_dir, settings["test_per_class"], seed=1, **common)
    return train_dir, data.from_directory(test_dir)


def train_and_evaluate(model_name, train_dir, test_list, workdir, settings, name=None,
                       overrides=(), fit_verbose=0):
    """Trains `model_name` with the demo's recipe (`overrides`: `key=value` strings, as
    `keras-video train` takes them) and evaluates it at video level on `test_list`; returns
    (model, history, report, training seconds). Every model of one `workdir` reads the same
    decoded-clip cache."""
    from keras_video import inference
    from keras_video.training import trainer

    begin = time.perf_counter()
    recipe = _recipe(name or f"demo_{model_name}", model_name, train_dir,
                     os.path.join(workdir, "runs"), settings,
                     cache=os.path.join(workdir, "decoded_train_clips"),
                     fit_verbose=fit_verbose)
    model, history = trainer.train(recipe, overrides)
    seconds = time.perf_counter() - begin
    report = inference.evaluate(model, test_list, num_frames=settings["frames"], stride=1,
                                 crop_size=settings["size"], num_clips=1, num_crops=1,
                                 batch_size=16, verbose=False)
    return model, history, report, seconds


def run(workdir=None, settings=None, verbose=True, fit_verbose=0):
    """Runs the demo; returns its results (the `--json` object). `verbose` prints its steps
    on stderr, `fit_verbose` is Keras' verbosity while the models train (1: a live bar, 2: a
    line per epoch)."""
    from keras_video import export, inference, plots

    settings = {**DEMO, **(settings or {})}
    start = time.perf_counter()
    workdir = workdir or tempfile.mkdtemp(prefix="keras-video-demo-")
    say = _log if verbose else (lambda message: None)

    say(f"[1/5] writing {settings['train_per_class']} + {settings['test_per_class']} synthetic "
        f"videos per class ({len(settings['classes'])} classes, mp4 + avi) to {workdir}/videos")
    train_dir, test_list = write_videos(workdir, settings, progress=verbose)

    results, histories, models = {}, {}, {}
    for step, name in enumerate(("s3dg", "c2d"), start=2):
        say(f"[{step}/5] training {name} ({settings['epochs']} epochs)")
        model, history, report, seconds = train_and_evaluate(name, train_dir, test_list,
                                                             workdir, settings,
                                                             fit_verbose=fit_verbose)
        results[name] = dict(report=report, train_seconds=seconds, params=model.count_params())
        histories[name] = history.history
        models[name] = model

    say("[4/5] exporting S3D-G as a SavedModel for TF Serving and classifying a video file "
        "with it")
    # No warm-up requests: they need tensorflow-serving-api, which the demo does not install.
    export_dir = export.export_savedmodel(models["s3dg"], os.path.join(workdir, "s3dg_serving"),
                                          class_names=test_list.class_names, warmup=False)
    video_path = test_list.paths[0]
    prediction = classify_with_savedmodel(export_dir, test_list.subset([0]), settings)

    say("[5/5] writing the training curves")
    curves = plots.training_curves(histories, os.path.join(workdir, "training_curves.png"),
                                   title="synthetic orbits: S3D-G vs frame-level C2D")
    inference.write_report(results["s3dg"]["report"], os.path.join(workdir, "report_s3dg"))
    inference.write_report(results["c2d"]["report"], os.path.join(workdir, "report_c2d"))
    classes = len(test_list.class_names)
    return {
        "s3dg_accuracy": results["s3dg"]["report"]["video_top1"],
        "c2d_accuracy": results["c2d"]["report"]["video_top1"],
        "chance_accuracy": 1 / classes,
        "s3dg_train_seconds": results["s3dg"]["train_seconds"],
        "c2d_train_seconds": results["c2d"]["train_seconds"],
        "s3dg_params": results["s3dg"]["params"], "c2d_params": results["c2d"]["params"],
        "test_videos": len(test_list), "classes": list(test_list.class_names),
        "savedmodel": export_dir, "predicted_video": video_path,
        "predicted_label": prediction["label"], "true_label":
            test_list.class_names[test_list.labels[0]], "predicted_score": prediction["score"],
        "training_curves": curves, "workdir": workdir,
        "seconds": time.perf_counter() - start,
    }


def classify_with_savedmodel(export_dir, videos, settings):
    """Runs the reloaded SavedModel (uint8 pixels in, as TF Serving runs it) on the centre clip
    of the first of `videos` (a `VideoList`), decoded and cropped by the same pipeline as the
    evaluation; the class names come from the SavedModel itself."""
    import numpy as np

    from keras_video import data, inference

    clip, _ = next(iter(data.video_dataset(videos, training=False, num_frames=settings["frames"],
                                           stride=1, crop_size=settings["size"], batch_size=1)))
    served = inference.load(export_dir)
    scores = served(np.round(clip.numpy()).astype(np.uint8))[0]
    best = int(np.argmax(scores))
    return {"label": served.class_names[best], "score": float(scores[best])}


def print_table(result, file=sys.stdout):
    rows = [("S3D-G (separable 3D + gating)", "s3dg"), ("C2D (frame-level 2D baseline)", "c2d")]
    print(f"\nSynthetic orbits, {result['test_videos']} held-out videos, "
          f"{len(result['classes'])} classes (chance {result['chance_accuracy']:.3f}, the most a "
          f"frame-level model can reach)\n", file=file)
    print(f"{'model':32s} {'video acc':>9s} {'params':>9s} {'train s':>8s}", file=file)
    for title, key in rows:
        print(f"{title:32s} {result[key + '_accuracy']:9.3f} {result[key + '_params']:9,d} "
              f"{result[key + '_train_seconds']:8.0f}", file=file)
    print(f"\nSavedModel {result['savedmodel']} on {os.path.basename(result['predicted_video'])}: "
          f"{result['predicted_label']} ({result['predicted_score']:.2f}); true class "
          f"{result['true_label']}", file=file)
    print(f"training curves: {result['training_curves']}\ntotal {result['seconds']:.0f} s",
          file=file)
