"""Where the demo's time goes: each phase's wall seconds, CPU seconds and cores kept busy.

    python benchmarks/demo_profile.py [--workdir DIR] [--models s3dg,c2d] [--input-only]
                                      [--trace DIR] [key=value ...]

Runs the demo's steps (`keras_video.demo`) with its settings, one after the other in this
process (the demo itself trains the two models side by side, in two processes), and splits
every training into set-up (video lists, pipeline, model build and compile), the first step
(tracing, graph optimisation and the first batch), the rest of epoch 1, the steps of the later
epochs and the epoch-end callbacks (backup, checkpoints, logs). Decoding every training video
into the clip cache is a phase of its own, before the trainings, as in the demo. "cores" is
CPU seconds over wall seconds of this process, all its threads: 2.0 keeps both cores of the
project's machine busy, 1.0 one of them. The held-out accuracy of each model closes the
table.

`--input-only` times the training input pipeline alone (a decoding pass, then a cached pass,
without a model): if it delivers batches much faster than the steps use them, the input is not
what the step waits for. `--trace DIR` records a TensorFlow profiler trace of ten steps of
epoch 2 of each model (open with TensorBoard's profile plugin). `key=value` overrides change
the recipe as `keras-video train` takes them (`jit_compile=true`, `batch_size=16` ...). With
`--workdir` of an earlier run, the videos and the decoded-clip cache are reused (delete
`decoded_train_clips*` to time decoding again).

`time keras-video demo --json` times the demo itself (wall, and CPU seconds of both processes).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_video import demo  # noqa: E402


class Clock:
    """Wall and process CPU seconds (every thread) since it was made, as rows of a table."""

    def __init__(self):
        self.rows = []

    @staticmethod
    def now():
        return time.perf_counter(), time.process_time()

    def add(self, name, start, end=None, count=None):
        end = end or self.now()
        self.add_row(name, end[0] - start[0], end[1] - start[1], count)
        return end

    def add_row(self, name, wall, cpu, count=None):
        self.rows.append((name, wall, cpu, count))
        print(f"  {name}: {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr, flush=True)

    def print(self, title, file=sys.stdout):
        print(f"\n{title}\n", file=file)
        print(f"{'phase':44s} {'wall s':>8s} {'CPU s':>8s} {'cores':>6s} {'per step':>9s}",
              file=file)
        for name, wall, cpu, count in self.rows:
            per = f"{wall / count:9.3f}" if count else ""
            print(f"{name:44s} {wall:8.1f} {cpu:8.1f} {cpu / max(wall, 1e-9):6.2f} {per}",
                  file=file)
        wall, cpu = sum(r[1] for r in self.rows), sum(r[2] for r in self.rows)
        print(f"{'total':44s} {wall:8.1f} {cpu:8.1f} {cpu / max(wall, 1e-9):6.2f}", file=file)


class PhaseCallback(keras.callbacks.Callback):
    """Splits `fit` into the first step, the rest of epoch 1, the later epochs' steps and the
    epoch-end callbacks. It runs after the trainer's own callbacks, so the time from an epoch's
    last batch to this callback's `on_epoch_end` is theirs."""

    def __init__(self, clock, model_name, trace_dir=None):
        super().__init__()
        self.clock, self.name, self.trace_dir = clock, model_name, trace_dir
        self.setup_start = Clock.now()
        self.epochs = []  # per epoch: [begin, first batch end, last batch end, end, batches]

    def on_train_begin(self, logs=None):
        self.fit_start = self.clock.add(f"{self.name}: set-up", self.setup_start)

    def on_epoch_begin(self, epoch, logs=None):
        now = Clock.now()
        self.epochs.append([now, None, now, None, 0])

    def on_train_batch_begin(self, batch, logs=None):
        if self.trace_dir and len(self.epochs) == 2 and batch == 10:
            import tensorflow as tf
            tf.profiler.experimental.start(os.path.join(self.trace_dir, self.name))

    def on_train_batch_end(self, batch, logs=None):
        epoch = self.epochs[-1]
        epoch[2] = Clock.now()
        epoch[1] = epoch[1] or epoch[2]
        epoch[4] += 1
        if self.trace_dir and len(self.epochs) == 2 and batch == 19:
            import tensorflow as tf
            tf.profiler.experimental.stop()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs[-1][3] = Clock.now()

    def on_train_end(self, logs=None):
        def span(pairs):  # summed (wall, CPU) of (start, end) pairs
            return tuple(sum(end[k] - start[k] for start, end in pairs) for k in (0, 1))

        first = self.epochs[0]
        rows = [("first step (trace + batch)", [(self.fit_start, first[1])], 1),
                ("epoch 1 after step 1", [(first[1], first[2])], first[4] - 1),
                ("epochs 2+ steps", [(e[0], e[2]) for e in self.epochs[1:]],
                 sum(e[4] for e in self.epochs[1:])),
                ("epoch-end callbacks (all epochs)", [(e[2], e[3]) for e in self.epochs], None)]
        for name, pairs, count in rows:
            self.clock.add_row(f"{self.name}: {name}", *span(pairs), count)
        self.end = self.epochs[-1][3]


def time_input(clock, train_dir, settings, workdir):
    """The training pipeline alone, without a model: one decoding pass, then a cached pass."""
    from keras_video.training import config as recipe_config
    from keras_video.training import trainer

    recipe = demo._recipe("input_only", "s3dg", train_dir, os.path.join(workdir, "runs"),
                          settings, cache=os.path.join(workdir, "input_only_clips"))
    config = recipe_config.load_config(recipe)
    train_list, _ = trainer.video_lists(config)
    steps = len(train_list) // config["batch_size"]
    dataset = trainer.training_dataset(config, train_list, config["batch_size"])
    iterator = iter(dataset)
    for name in ("input alone: decoding pass", "input alone: cached pass"):
        start = Clock.now()
        for _ in range(steps):
            next(iterator)
        clock.add(name, start, count=steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="folder for the videos, cache and runs (default: new)")
    parser.add_argument("--models", default="s3dg,c2d")
    parser.add_argument("--input-only", action="store_true",
                        help="time the input pipeline alone, train nothing")
    parser.add_argument("--trace", metavar="DIR", help="TensorFlow profiler trace of ten steps")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args(argv)
    settings = dict(demo.DEMO)
    workdir = args.workdir or tempfile.mkdtemp(prefix="keras-video-demo-profile-")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"workdir {workdir}\nuptime before: {load}", file=sys.stderr)
    clock = Clock()

    start = Clock.now()
    train_dir, test_list = demo.write_videos(workdir, settings, progress=False)
    clock.add("writing the videos", start)
    if args.input_only:
        time_input(clock, train_dir, settings, workdir)
    else:
        start = Clock.now()
        demo.decode_training_clips(train_dir, workdir, settings)
        clock.add("decoding the training videos into the cache", start)
    models, accuracies = {}, {}
    for name in args.models.split(",") if not args.input_only else ():
        callback = PhaseCallback(clock, name, args.trace)
        model, _, report, _ = demo.train_and_evaluate(
            name, train_dir, test_list, workdir, settings, name=f"profile_{name}",
            overrides=args.overrides, callbacks=[callback])
        clock.add(f"{name}: evaluation", callback.end)
        models[name], accuracies[name] = model, report["video_top1"]
    if "s3dg" in models:
        from keras_video import export

        start = Clock.now()
        export_dir = export.export_savedmodel(models["s3dg"],
                                              os.path.join(workdir, "s3dg_serving"),
                                              class_names=test_list.class_names, warmup=False)
        start = clock.add("s3dg: SavedModel export", start)
        demo.classify_with_savedmodel(export_dir, test_list.subset([0]), settings)
        clock.add("s3dg: SavedModel reload + classify", start)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    clock.print(f"demo phases, overrides: {' '.join(args.overrides) or 'none'}; "
                f"uptime after: {load}")
    for name, accuracy in accuracies.items():
        print(f"{name} held-out video accuracy: {accuracy:.3f}")


if __name__ == "__main__":
    main()
