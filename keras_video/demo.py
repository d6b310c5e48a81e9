"""`keras-video demo`: the paper's point, shown on data where it must hold.

It writes the synthetic motion dataset as real video files (mp4 and avi), trains a small S3D-G
and the frame-level C2D baseline with the same pipeline, recipe and budget, evaluates both at
video level on held-out videos, exports the S3D-G as a TF Serving SavedModel and classifies one
generated video file with the reloaded SavedModel. The classes are orbits that play one set of
frames in different orders, so a frame-level model is at chance whatever it learns.

The two trainings run side by side: C2D in a second process, S3D-G in this one. One training
keeps about one core busy (its steps are many small ops, and tracing, checkpoints and export
are Python), so on a 2-core machine the second core would otherwise sit idle for most of the
run. Both read the decoded-clip cache, which is filled once before either starts; each
training is seeded on its own, so running them together changes neither one's data order nor
its result. After C2D, the second process builds an S3D-G and traces its evaluation while the
first still trains it, then evaluates the trained weights while the first exports them.
"""
import contextlib
import multiprocessing
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
# Sized to a few minutes on 2 CPU cores: 8 epochs of 400 videos per class, batch 16, width
# 0.125 (it learns faster per step than width 0.25, and each step costs less). Batch 16, not
# 32: twice the steps for about a fifth more time, and every seed tried learns the orbits
# (0.990-1.000 held-out over ten), where at batch 32 some stopped halfway (0.515 at worst),
# and a CPU that rounds otherwise moves a run as much as another seed does. The
# decoded clips are cached in the work folder, so the second model trains without decoding.
# AdamW, not SGD: with SGD (0.1, Nesterov) a run stays at chance for a random number of epochs
# before it takes off; AdamW takes off within two epochs with every seed tried. Its rate is
# 1e-2: at 5e-3 the orbits' speed (one turn against three) is still being learned after 8
# epochs.
# BatchNorm momentum 0.9, not Keras' 0.99: in a few hundred steps the network changes faster than
# a 100-step average follows, and the inference-mode statistics lag behind it.
# docs/benchmarks.md ("The demo") has the measurements; benchmarks/demo_recipe.py reruns them.
DEMO = dict(frames=16, size=32, train_per_class=400, test_per_class=50, epochs=8, batch_size=16,
            width_multiplier=0.125, min_width=8, bn_momentum=0.9, learning_rate=1e-2,
            weight_decay=0.05, classes=ORBIT_CLASSES)
EVALUATION_BATCH = 16


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


def _cache_path(workdir):
    return os.path.join(workdir, "decoded_train_clips")


def _demo_recipe(model_name, train_dir, workdir, settings, name=None, fit_verbose=0):
    return _recipe(name or f"demo_{model_name}", model_name, train_dir,
                   os.path.join(workdir, "runs"), settings, cache=_cache_path(workdir),
                   fit_verbose=fit_verbose)


def _demo_config(model_name, train_dir, workdir, settings):
    """The resolved recipe of `model_name` in the demo (what `train_demo_model` trains)."""
    from keras_video.training import config as recipe_config

    return recipe_config.load_config(_demo_recipe(model_name, train_dir, workdir, settings))


def decode_training_clips(train_dir, workdir, settings):
    """Decodes every training video of `train_dir` into the work folder's decoded-clip cache,
    through the training pipeline itself (the same for every model), so that the cache holds
    what a training would have written; does nothing where the cache is complete. Afterwards
    several trainings can read it at once (a cache being written takes a lock that a second writer fails on)."""
    from keras_video.training import trainer

    if os.path.exists(_cache_path(workdir) + ".index"):
        return
    config = _demo_config("s3dg", train_dir, workdir, settings)
    train_list, _ = trainer.video_lists(config)
    # The pipeline shuffles the cached clips over every video, so its first batch waits for
    # the last video to be decoded, which completes the cache.
    next(iter(trainer.training_dataset(config, train_list, config["batch_size"])))


def train_demo_model(model_name, train_dir, workdir, settings, name=None, overrides=(),
                     fit_verbose=0, callbacks=()):
    """Trains `model_name` with the demo's recipe (`overrides`: `key=value` strings, as
    `keras-video train` takes them; `callbacks`: more Keras callbacks for `fit`); returns
    (model, history, training seconds). Every model of one `workdir` reads the same
    decoded-clip cache."""
    from keras_video.training import trainer

    begin = time.perf_counter()
    recipe = _demo_recipe(model_name, train_dir, workdir, settings, name, fit_verbose)
    # A demo rerun in the same workdir trains again (its videos and decoded clips are kept):
    # resuming a finished run would report its saved accuracies with no training time.
    model, history = trainer.train(recipe, overrides, callbacks=callbacks, resume=False)
    return model, history, time.perf_counter() - begin


def evaluate_demo_model(model, test_list, settings):
    """The video-level report of `model` on the held-out `test_list`, one centre clip each."""
    from keras_video import inference

    return inference.evaluate(model, test_list, num_frames=settings["frames"], stride=1,
                              crop_size=settings["size"], num_clips=1, num_crops=1,
                              batch_size=EVALUATION_BATCH, verbose=False)


def train_and_evaluate(model_name, train_dir, test_list, workdir, settings, name=None,
                       overrides=(), fit_verbose=0, callbacks=()):
    """`train_demo_model`, then `evaluate_demo_model`: (model, history, report, training
    seconds)."""
    model, history, seconds = train_demo_model(model_name, train_dir, workdir, settings, name,
                                               overrides, fit_verbose, callbacks)
    return model, history, evaluate_demo_model(model, test_list, settings), seconds


# A Pool(1) worker runs its tasks one after the other in one interpreter: the model that
# `prepare_evaluation` built waits here for `evaluate_trained`.
_PREPARED = {}


def prepare_evaluation(model_name, train_dir, test_list, workdir, settings):
    """In the second process, while the first still trains `model_name`: builds that model and
    runs its evaluation on one batch and one more video, which traces the two prediction
    graphs the full evaluation uses (a full batch, and the smaller last one).
    `evaluate_trained` then only loads the weights and predicts, and most of the evaluation's
    time (the tracing) is off the path that ends the demo."""
    from keras_video.training import trainer

    config = _demo_config(model_name, train_dir, workdir, settings)
    model = trainer.build_model(config, len(test_list.class_names))
    evaluate_demo_model(model, test_list.subset(range(min(len(test_list),
                                                          EVALUATION_BATCH + 1))), settings)
    _PREPARED[model_name] = model


def _lower_priority():
    """Lets the first process's training have the cores first (POSIX `nice`; elsewhere a
    no-op)."""
    with contextlib.suppress(AttributeError, OSError):
        os.nice(10)


def evaluate_trained(model_name, train_dir, test_list, workdir, settings):
    """`evaluate_demo_model` of the weights `train_demo_model` left in the run's
    `last.keras`, on the model `prepare_evaluation` built (or a new one)."""
    from keras_video.training import trainer

    config = _demo_config(model_name, train_dir, workdir, settings)
    model = _PREPARED.pop(model_name, None)
    if model is None:
        model = trainer.build_model(config, len(test_list.class_names))
    model.load_weights(os.path.join(trainer.run_folder(config), "last.keras"))
    return evaluate_demo_model(model, test_list, settings)


def _summary(model, history, report, seconds):
    return dict(report=report, train_seconds=seconds, params=model.count_params(),
                history=history.history)


def train_and_summarise(model_name, train_dir, test_list, workdir, settings):
    """`train_and_evaluate` in the second process: what `run` reports, without the model."""
    return _summary(*train_and_evaluate(model_name, train_dir, test_list, workdir, settings))


def _import_training():
    """Loads TensorFlow and the trainer in the second process while the first writes videos."""
    from keras_video.training import trainer  # noqa: F401


def run(workdir=None, settings=None, verbose=True, fit_verbose=0):
    """Runs the demo; returns its results (the `--json` object). `verbose` prints its steps
    on stderr, `fit_verbose` is Keras' verbosity while S3D-G trains (1: a live bar, 2: a line
    per epoch, "auto": the bar on a terminal, lines elsewhere); C2D trains silently beside it."""
    from keras_video import export, inference, plots

    settings = {**DEMO, **(settings or {})}
    start = time.perf_counter()
    workdir = workdir or tempfile.mkdtemp(prefix="keras-video-demo-")
    say = _log if verbose else (lambda message: None)

    # A fresh interpreter (spawn): a forked TensorFlow runtime is not safe to use. Leaving the
    # block terminates it, so an error here does not wait for C2D to finish.
    with multiprocessing.get_context("spawn").Pool(1) as second:
        ready = second.apply_async(_import_training)
        say(f"[1/5] writing {settings['train_per_class']} + {settings['test_per_class']} "
            f"synthetic videos per class ({len(settings['classes'])} classes, mp4 + avi) to "
            f"{workdir}/videos")
        train_dir, test_list = write_videos(workdir, settings, progress=verbose)
        say("[2/5] decoding each training video once, into the clip cache both models read")
        decode_training_clips(train_dir, workdir, settings)
        ready.get()
        say(f"[3/5] training s3dg here and c2d in a second process, side by side "
            f"({settings['epochs']} epochs each)")
        c2d = second.apply_async(train_and_summarise,
                                 ("c2d", train_dir, test_list, workdir, settings))
        task = ("s3dg", train_dir, test_list, workdir, settings)
        # Once C2D is done, while S3D-G still trains:
        second.apply_async(_lower_priority)
        prepared = second.apply_async(prepare_evaluation, task)
        s3dg_model, history, seconds = train_demo_model("s3dg", train_dir, workdir, settings,
                                                        fit_verbose=fit_verbose)
        # The second process evaluates the trained S3D-G while this one exports it: both are
        # mostly one thread of Python.
        s3dg_report = second.apply_async(evaluate_trained, task)

        say("[4/5] exporting S3D-G as a SavedModel for TF Serving and classifying a video "
            "file with it, while the second process evaluates it")
        # No warm-up requests: they need tensorflow-serving-api, which the demo does not
        # install.
        export_dir = export.export_savedmodel(s3dg_model,
                                              os.path.join(workdir, "s3dg_serving"),
                                              class_names=test_list.class_names, warmup=False)
        video_path = test_list.paths[0]
        prediction = classify_with_savedmodel(export_dir, test_list.subset([0]), settings)
        results = {"s3dg": _summary(s3dg_model, history, s3dg_report.get(), seconds),
                   "c2d": c2d.get()}
        try:  # done by now: the worker ran it before evaluate_trained
            prepared.get()
        except Exception as error:  # evaluate_trained then built a model of its own
            _log(f"note: the second process could not prepare S3D-G's evaluation ({error}); "
                 "it evaluated on a model it built afterwards")
    histories = {name: result["history"] for name, result in results.items()}

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
