"""`keras-video` command line: `info` and `benchmark` (each also a Python function).

    keras-video info MODEL [--frames T --size S] [--json]
    keras-video info --all [--json]
    keras-video benchmark MODEL [--frames T --size S --batch B --repeats N] [--nojit] [--json]

`--json` prints one JSON object on stdout and nothing else there; progress goes to stderr.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter quiet

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("frames", 16, "Clip length in frames.", lower_bound=1)
flags.DEFINE_integer("size", 224, "Frame height and width in pixels.", lower_bound=1)
flags.DEFINE_integer("batch", 1, "Clips per batch (benchmark).", lower_bound=1)
flags.DEFINE_integer("repeats", 5, "Timed repeats; the median is reported (benchmark).",
                     lower_bound=1)
flags.DEFINE_integer("warmup", 2, "Untimed calls before timing (benchmark).", lower_bound=0)
flags.DEFINE_boolean("jit", True, "Compile with XLA (benchmark).")
flags.DEFINE_boolean("all", False, "Every registered model (info).")
flags.DEFINE_boolean("json", False, "Print one JSON object on stdout and nothing else.")

COMMANDS = ("info", "benchmark")


def info(model_name, frames=16, size=224):
    """Params, trainable params and GMACs of a registered model, built with random weights."""
    from keras_video import profiling, zoo
    model = zoo.get(model_name, input_shape=(frames, size, size, 3))
    return {"model": model_name, **profiling.profile(model, frames, size)}


def benchmark(model_name, frames=16, size=224, batch=1, jit_compile=True, warmup=2, repeats=5):
    """Inference clips/s and ms per clip of a registered model (median after warm-up)."""
    from keras_video import benchmarking, zoo
    model = zoo.get(model_name, input_shape=(frames, size, size, 3))
    result = benchmarking.benchmark(model, frames, size, batch, jit_compile, warmup, repeats)
    return {**result, "model": model_name}


def _table(rows, columns):
    widths = [max(len(c), *(len(_fmt(r[c])) for r in rows)) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(_fmt(r[c]).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(lines)


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10000:
        return f"{value:,}"
    return str(value)


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"usage: keras-video {{{'|'.join(COMMANDS)}}} MODEL [flags]; "
                             "see --helpfull")
    command, names = argv[1], argv[2:]
    from keras_video import zoo
    if FLAGS.all and command != "info":
        raise app.UsageError("--all applies to info only")
    if command == "info" and FLAGS.all:
        names = zoo.list_models()
    if len(names) != 1 and not (command == "info" and FLAGS.all):
        raise app.UsageError(f"{command} takes one MODEL (one of {', '.join(zoo.list_models())})"
                             + (" or --all" if command == "info" else ""))
    try:
        for name in names:
            zoo.get_builder(name)
    except ValueError as error:
        raise app.UsageError(str(error))

    rows = []
    for i, name in enumerate(names, 1):
        if len(names) > 1:
            print(f"[{i}/{len(names)}] {name}", file=sys.stderr, flush=True)
        if command == "info":
            rows.append(info(name, FLAGS.frames, FLAGS.size))
        else:
            rows.append(benchmark(name, FLAGS.frames, FLAGS.size, FLAGS.batch, FLAGS.jit,
                                  FLAGS.warmup, FLAGS.repeats))
    if FLAGS.json:
        print(json.dumps(rows[0] if not FLAGS.all else {r["model"]: r for r in rows}))
    elif command == "info":
        print(_table(rows, ["model", "params", "trainable_params", "gmacs", "frames", "size"]))
    else:
        print(_table(rows, ["model", "frames", "size", "batch", "jit_compile", "ms_per_clip",
                            "clips_per_s"]))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
