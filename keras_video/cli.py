"""`keras-video` command line (each command is also a Python function).

    keras-video demo [--json] [--workdir DIR]
    keras-video train --config zoo/RECIPE.yaml [--key.sub=value ...]
    keras-video evaluate [MODEL.keras] --config zoo/RECIPE.yaml [--clips N --crops M] [--json]
    keras-video info MODEL [--frames T --size S] [--json]
    keras-video info --all [--json]
    keras-video benchmark MODEL [--frames T --size S --batch B --repeats N] [--nojit] [--json]
    keras-video export MODEL|PATH --format savedmodel|tflite|onnx [--quantize fp16|int8]
                       [--frames T --size S] [--labels FILE] --out PATH [--json]
    keras-video predict VIDEO... --model MODEL|PATH [--top 5] [--window T --stride S] [--json]
    keras-video convert CHECKPOINT --model MODEL --to PATH.weights.h5 [--classes N] [--json]

`--json` prints one JSON object on stdout and nothing else there; progress goes to stderr.
"""
import contextlib
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
flags.DEFINE_string("config", None, "Recipe YAML (train, evaluate); other --key=value flags "
                    "override its keys, e.g. --optimizer.learning_rate=0.01.")
flags.DEFINE_integer("clips", None, "Clips per video (evaluate; default: the recipe's "
                     "data.eval_clips).", lower_bound=1)
flags.DEFINE_integer("crops", None, "Crops per clip, 1 or 3 (evaluate; default: the recipe's "
                     "data.eval_crops).", lower_bound=1)
flags.DEFINE_string("to", None, "Output .weights.h5 path (convert).")
flags.DEFINE_string("out", None, "Folder for the report (evaluate; default: the run folder); "
                    "the file or folder to write (export).")
flags.DEFINE_enum("format", None, ["savedmodel", "tflite", "onnx"], "Export format (export).")
flags.DEFINE_enum("quantize", None, ["fp16", "dynamic_int8", "int8"],
                  "TFLite precision (export --format tflite; default float32). int8 calibrates "
                  "on synthetic clips.")
flags.DEFINE_string("model", None, "A registered model name or the path of a .keras file, "
                    "SavedModel folder, .tflite or .onnx file (predict).")
flags.DEFINE_string("weights", None, "Weights of a registered model given by name (export, "
                    "predict): a registered weights name or a .weights.h5 file; default: "
                    "random initialisation.")
flags.DEFINE_integer("classes", None, "Classes of a registered model given by name (export, "
                     "predict; default: the builder's).", lower_bound=1)
flags.DEFINE_string("labels", None, "Text file of class names, one per line (export, predict; "
                    "default: those stored with the model).")
flags.DEFINE_integer("top", 5, "Classes to print per video (predict).", lower_bound=1)
flags.DEFINE_integer("window", None, "Frames per window (predict; default: the model's clip "
                     "length, else 16).", lower_bound=1)
flags.DEFINE_integer("stride", None, "Frames between window starts (predict; default: the "
                     "window, windows side by side).", lower_bound=1)
flags.DEFINE_integer("frame_stride", 1, "Frames between the frames of a window (predict).",
                     lower_bound=1)
flags.DEFINE_string("workdir", None, "Folder for the demo's videos, runs and figures "
                    "(default: a new temporary folder).")

COMMANDS = ("demo", "train", "evaluate", "info", "benchmark", "export", "predict", "convert")
OVERRIDES = []  # recipe overrides taken out of argv before absl parses it


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


def train(config_path, overrides=()):
    """Trains a recipe; returns the run folder and the last epoch's metrics."""
    from keras_video import training
    config = training.load_config(config_path, overrides)
    _, history = training.train(config=config)
    last = {key: float(values[-1]) for key, values in history.history.items()}
    return {"run": training.trainer.run_folder(config), "epochs_run": len(history.epoch), **last}


def evaluate(config_path, overrides=(), model_path=None, clips=None, crops=None, out=None,
             verbose=True):
    """Evaluates a trained model on the recipe's validation split with clips x crops views
    per video (default: the recipe's data.eval_clips x data.eval_crops)."""
    import keras

    from keras_video import training
    config = training.load_config(config_path, overrides)
    folder = training.trainer.run_folder(config)
    model_path = model_path or os.path.join(folder, "best.keras")
    if not os.path.exists(model_path):
        raise FileNotFoundError(f"no model at {model_path}: train the recipe first or pass "
                                "the .keras file to evaluate")
    _, validation = training.trainer.video_lists(config)
    if validation is None:
        raise ValueError("the recipe has no data.validation split to evaluate on")
    d = config["data"]
    clips, crops = clips or d["eval_clips"], crops or d["eval_crops"]
    if crops not in (1, 3):
        raise ValueError(f"crops must be 1 or 3, got {crops}")
    result = training.evaluate(keras.models.load_model(model_path), validation,
                               num_frames=d["num_frames"], stride=d["stride"], fps=d["fps"],
                               crop_size=d["crop_size"], num_clips=clips, num_crops=crops,
                               batch_size=config["batch_size"], verbose=verbose)
    json_path, png_path = training.write_report(result, out or os.path.join(folder, "evaluation"))
    return {**result, "report": json_path, "confusion_png": png_path, "model": model_path}


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
        raise app.UsageError(f"usage: keras-video {{{'|'.join(COMMANDS)}}} [MODEL] [flags]; "
                             "see --helpfull")
    command, names = argv[1], argv[2:]
    if command == "demo":
        from keras_video import demo
        demo.main(as_json=FLAGS.json, workdir=FLAGS.workdir)
        return None
    if command in ("train", "evaluate"):
        return _train_or_evaluate(command, names)
    if command in ("export", "predict"):
        return _export_or_predict(command, names)
    if OVERRIDES:  # train and evaluate take key=value overrides; no other command does
        raise app.UsageError(f"unknown flag(s) {OVERRIDES}")
    if command == "convert":
        return _convert(names)
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


def _train_or_evaluate(command, names):
    if not FLAGS.config:
        raise app.UsageError(f"{command} needs --config zoo/RECIPE.yaml")
    overrides = OVERRIDES + [n for n in names if "=" in n]
    paths = [n for n in names if "=" not in n]
    if command == "train" and paths:
        raise app.UsageError(f"train takes no positional arguments, got {paths}")
    if command == "evaluate" and len(paths) > 1:
        raise app.UsageError("evaluate takes at most one MODEL.keras")
    if FLAGS.crops not in (None, 1, 3):
        raise app.UsageError("--crops must be 1 or 3")
    # Keras prints progress on stdout; with --json stdout must hold the result alone.
    with contextlib.redirect_stdout(sys.stderr):
        if command == "train":
            result = train(FLAGS.config, overrides)
        else:
            result = evaluate(FLAGS.config, overrides, paths[0] if paths else None,
                              FLAGS.clips, FLAGS.crops, FLAGS.out, verbose=not FLAGS.json)
    if FLAGS.json:
        print(json.dumps(result))
    else:
        keys = [k for k in result if not isinstance(result[k], (dict, list))]
        print("\n".join(f"{k}: {_fmt(result[k])}" for k in keys))


def export(model, fmt, out, quantize=None, frames=None, size=None, class_names=None,
           weights=None, classes=None):
    """Exports a registered model (by name) or a `.keras` file to `fmt` at `out`."""
    from keras_video import export as export_lib
    if quantize and fmt != "tflite":
        raise ValueError("--quantize applies to --format tflite only")
    keras_model = _keras_model(model, frames, size, weights, classes)
    if class_names is None and os.path.exists(model):
        class_names = export_lib.signatures.labels_beside(model)
    if fmt == "savedmodel":
        path = export_lib.export_savedmodel(keras_model, out, class_names=class_names,
                                            frames=frames, size=size)
        return {"format": fmt, "path": path}
    if fmt == "tflite":
        return {"format": fmt, **export_lib.export_tflite(
            keras_model, out, quantize=quantize, frames=frames, size=size,
            class_names=class_names)}
    return {"format": fmt, **export_lib.export_onnx(keras_model, out, frames=frames, size=size,
                                                    class_names=class_names)}


def predict(videos, model, top=5, window=None, stride=None, frame_stride=1, class_names=None,
            weights=None, classes=None, size=None):
    """Top classes (and a timeline of windows) of each video with any model form."""
    from keras_video import export as export_lib
    from keras_video import prediction
    if not os.path.exists(model):
        model = _keras_model(model, None, None, weights, classes)
    predictor = export_lib.load(model, class_names=class_names)
    return [prediction.classify_video(predictor, video, window=window, stride=stride,
                                      frame_stride=frame_stride, size=size, top_k=top)
            for video in videos]


def _keras_model(model, frames, size, weights, classes):
    """A registered model built at the clip shape, or a loaded `.keras` file."""
    import keras

    from keras_video import zoo
    if os.path.exists(model):
        if not model.endswith(".keras"):
            raise ValueError(f"{model}: export takes a registered model name or a .keras file")
        return keras.saving.load_model(model)
    shape = (frames, size, size, 3) if frames or size else None
    kwargs = {"classes": classes} if classes else {}
    return zoo.get(model, input_shape=shape, weights=weights, **kwargs)


def _export_or_predict(command, names):
    if OVERRIDES:
        raise app.UsageError(f"unknown flag(s) {OVERRIDES}")
    labels = None
    if FLAGS.labels:
        from keras_video.export import signatures
        labels = signatures.read_labels(FLAGS.labels)
    # --frames / --size have defaults for info and benchmark; here only what the user gave.
    frames = FLAGS.frames if FLAGS["frames"].present else None
    size = FLAGS.size if FLAGS["size"].present else None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            if command == "export":
                if len(names) != 1 or not FLAGS.format or not FLAGS.out:
                    raise app.UsageError("usage: keras-video export MODEL|PATH --format "
                                         "savedmodel|tflite|onnx --out PATH")
                result = export(names[0], FLAGS.format, FLAGS.out, FLAGS.quantize, frames,
                                size, labels, FLAGS.weights, FLAGS.classes)
            else:
                if not names or not FLAGS.model:
                    raise app.UsageError("usage: keras-video predict VIDEO... --model "
                                         "MODEL|PATH")
                result = predict(names, FLAGS.model, FLAGS.top, FLAGS.window, FLAGS.stride,
                                 FLAGS.frame_stride, labels, FLAGS.weights, FLAGS.classes, size)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        raise app.UsageError(str(error))
    if FLAGS.json:
        print(json.dumps(result if command == "export" else
                         (result[0] if len(result) == 1 else result)))
    elif command == "export":
        print("\n".join(f"{k}: {v}" for k, v in result.items()))
    else:
        for video in result:
            best = ", ".join(f"{c['class']} {c['score']:.3f}" for c in video["top"])
            print(f"{video['video']}: {best}")
            if len(video["timeline"]) > 1:
                for w in video["timeline"]:
                    print(f"  {w['start_sec']:8.2f}-{w['end_sec']:<8.2f} {w['top'][0]['class']} "
                          f"{w['top'][0]['score']:.3f}")


def convert(source, model_name, to, classes=None):
    """Converts an upstream checkpoint into `model_name`'s Keras weights at `to`."""
    from keras_video import weights
    if not to.endswith(".weights.h5"):
        raise ValueError(f"--to must end in .weights.h5 (Keras's weights format), got {to!r}")
    kwargs = {} if classes is None else {"classes": classes}
    model = weights.convert(source, model_name, **kwargs)
    os.makedirs(os.path.dirname(os.path.abspath(to)), exist_ok=True)
    model.save_weights(to)
    return {"model": model_name, "source": source, "weights": to,
            "params": model.count_params()}


def _convert(names):
    if len(names) != 1 or not FLAGS.model or not FLAGS.to:
        raise app.UsageError("usage: keras-video convert SOURCE --model NAME --to "
                             "PATH.weights.h5 [--classes N]")
    try:
        row = convert(names[0], FLAGS.model, FLAGS.to, FLAGS.classes)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error))
    print(json.dumps(row) if FLAGS.json else
          f"Wrote {row['weights']}: {FLAGS.model} from {names[0]}; load it with "
          f"keras_video.zoo.get({FLAGS.model!r}, weights={row['weights']!r})")


def _take_overrides(argv):
    """Moves `--a.b=value` and other unknown `--key=value` flags into OVERRIDES."""
    kept = []
    for arg in argv:
        name = arg[2:].split("=", 1)[0] if arg.startswith("--") and "=" in arg else None
        negated = name[2:] if name and name.startswith("no") else None
        if name and name not in FLAGS and negated not in FLAGS:
            OVERRIDES.append(arg[2:])
        else:
            kept.append(arg)
    return kept


def run():
    app.run(main, argv=_take_overrides(sys.argv))


if __name__ == "__main__":
    run()
