"""The `keras-video` command: subcommands in the style of git and pip, each a few lines that
parse arguments and call one library function.

`keras-video --help` lists the commands, `keras-video COMMAND --help` shows that command's
arguments with their defaults. Help exits 0; a usage error (a misspelt flag included) exits 2
with one line; a failure exits 1 with one line (`--debug` shows the traceback). `--json` prints
one JSON object on stdout and nothing else there; progress goes to stderr. Framework start-up
and info logs are hidden unless `--verbose`.
"""
import argparse
import contextlib
import json
import os
import sys
import warnings

from keras_video.inference import one_line
from keras_video.version import __version__

PROG = "keras-video"


class UsageError(Exception):
    """A command line that cannot run as given (exit status 2)."""


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends each argument's default to its help, except where it says nothing: the help
    states the default itself (a None that stands for "the run's best/" and the like), the
    argument is required, or the default is None or an off switch (False)."""

    def _get_help_string(self, action):
        if "(default:" in (action.help or "") or action.required or action.default is None \
                or action.default is False:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors and no abbreviated flags."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _common(parser, json_flag=True):
    group = parser.add_argument_group("output")
    if json_flag:
        group.add_argument("--json", action="store_true",
                           help="print one JSON object on stdout and nothing else there")
    group.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="show TensorFlow's start-up and info logs")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of a failure")


def _clip_flags(parser, frames=16, size=224, what="the clip"):
    parser.add_argument("--frames", type=_positive, default=frames, help=f"frames of {what}")
    parser.add_argument("--size", type=_positive, default=size,
                        help=f"height and width of {what} in pixels")


def _model_flags(parser, what="the model"):
    parser.add_argument("--model", required=True,
                        help=f"{what}: a registered model (with --weights), a registered preset "
                             "(s3d.kinetics400), a preset directory (a run's best/), a .keras "
                             "file, a SavedModel folder, or a .tflite / .onnx file")
    parser.add_argument("--weights", help="weights of a registered model: a registered weights "
                        "name (keras-video presets lists them), a preset directory or a "
                        ".weights.h5 file; default: random initialisation")
    parser.add_argument("--classes", type=_positive, help="classes of a registered model given "
                        "by name (a new head where the weights have others)")


def _window_flags(parser):
    parser.add_argument("--window", type=_positive, help="frames per window (default: the "
                        "model's clip spec)")
    parser.add_argument("--stride", type=_positive, help="frames between window starts "
                        "(default: windows side by side)")
    parser.add_argument("--frame-stride", "--frame_stride", dest="frame_stride", type=_positive,
                        help="frames between the frames of a window (default: the clip spec's)")
    parser.add_argument("--fps", type=_positive_float, help="resample videos to this frame "
                        "rate first (default: the clip spec's, else the file's)")


def _positive_number(convert, kind, zero=False):
    """An argparse `type` that reads a number with `convert` and refuses negatives, infinity
    and (unless `zero`) zero, naming the `kind` it expected."""
    kind = f"{'non-negative' if zero else 'positive'} {kind}"

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind}, got {text!r}") from None
        if not (0 <= value if zero else 0 < value) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected a {kind}, got {text}")
        return value
    return parse


_positive = _positive_number(int, "integer")
_count = _positive_number(int, "integer", zero=True)
_positive_float = _positive_number(float, "number")


def build_parser():
    parser = Parser(prog=PROG, description="Video understanding models for Keras 3 and "
                    "TensorFlow: train, evaluate, classify, export.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    # Each command's flags, for `split_overrides` (filled as the flags are added).
    parser.commands = {}

    def command(name, help_text, run, json_flag=True):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        parser.commands[name] = sub._option_string_actions  # a live dict
        return sub, json_flag

    sub, flag = command("demo", "train S3D-G and the frame-level C2D on synthetic "
                        "orbits written as videos, evaluate, export, classify", _demo)
    sub.add_argument("--workdir", help="folder for the videos, runs and figures "
                     "(default: a new temporary folder)")
    sub.add_argument("--task", choices=("classification", "detection"),
                     default="classification", help="classification: the orbit classes of "
                     "whole clips; detection: S3D-G and C2D action detectors on orbit scenes "
                     "with boxes, compared by frame-mAP@0.5")
    _common(sub, flag)

    sub, flag = command("info", "parameters, trainable parameters and GMACs of a model", _info)
    sub.add_argument("models", nargs="*", metavar="MODEL", help="registered model names")
    sub.add_argument("--all", action="store_true", help="every registered model")
    _clip_flags(sub)
    _common(sub, flag)

    sub, flag = command("benchmark", "inference speed of a model with random weights",
                        _benchmark)
    sub.add_argument("model", metavar="MODEL", help="a registered model name")
    _clip_flags(sub)
    sub.add_argument("--batch", type=_positive, default=1, help="clips per batch")
    sub.add_argument("--repeats", type=_positive, default=5,
                     help="timed calls; the median is reported")
    sub.add_argument("--warmup", type=_count, default=2, help="untimed calls before timing")
    sub.add_argument("--jit", action=argparse.BooleanOptionalAction, default=True,
                     help="compile with XLA")
    sub.add_argument("--nojit", dest="jit", action="store_false", help=argparse.SUPPRESS)
    _common(sub, flag)

    for name, help_text, run in (
            ("train", "train a recipe (resumes a killed run); other --KEY VALUE flags override "
             "recipe keys, e.g. --optimizer.learning_rate=0.01 or --epochs 5", _train),
            ("evaluate", "evaluate a trained recipe on its validation split, clips x crops "
             "views per video", _evaluate)):
        sub, flag = command(name, help_text, run)
        sub.add_argument("--config", required=True,
                         help="a packaged recipe's name (keras-video recipes) or a YAML file")
        if name == "train":
            sub.add_argument("--restart", action="store_true",
                             help="delete what an earlier run of this recipe wrote and train "
                             "from scratch (default: resume it, or say that it is finished)")
        if name == "evaluate":
            sub.add_argument("model", nargs="?", metavar="MODEL",
                             help="the model to evaluate (default: the run's best/)")
            sub.add_argument("--clips", type=_positive,
                             help="clips per video (default: the recipe's data.eval_clips)")
            sub.add_argument("--crops", type=int, choices=(1, 3),
                             help="crops per clip (default: the recipe's data.eval_crops)")
            sub.add_argument("--out", help="folder for the report (default: the run's "
                             "evaluation/)")
        _common(sub, flag)

    sub, flag = command("predict", "classify videos, with a timeline of windows", _predict)
    sub.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    _model_flags(sub)
    sub.add_argument("--labels", help="text file of class names, one per line (default: "
                     "those the model carries)")
    sub.add_argument("--top", type=_positive, default=5, help="classes to print per video")
    _window_flags(sub)
    sub.add_argument("--size", type=_positive, help="crop size where the model leaves it open "
                     "(default: the clip spec's)")
    _common(sub, flag)

    sub, flag = command("detect", "find and label the actions in a video: tubes of boxes "
                        "with their class and score", _detect)
    sub.add_argument("video", metavar="VIDEO", help="a video file or a folder of frames")
    sub.add_argument("--model", required=True, help="an action detector: a preset directory "
                     "(keras_video.presets.save) or a .keras file")
    sub.add_argument("--render", metavar="OUT", help="also write the video with the tubes' "
                     "boxes, labels and scores drawn (the container follows the extension)")
    sub.add_argument("--min-score", "--min_score", dest="min_score", type=float, default=0.05,
                     help="drop detections scoring below this before linking")
    sub.add_argument("--key-frame-step", "--key_frame_step", dest="key_frame_step",
                     type=_positive, default=1, help="detect on every n-th frame")
    sub.add_argument("--link", choices=("greedy", "viterbi"), default="greedy",
                     help="tube linking: greedy by overlap (ACT, MOC) or viterbi, by score "
                     "plus overlap (for actors that move more than their size per frame)")
    sub.add_argument("--top", type=_positive, default=10, help="tubes to print and draw")
    _common(sub, flag)

    sub, flag = command("features", "write one feature vector per window of each video "
                        "(for temporal localisation and retrieval)", _features)
    sub.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    _model_flags(sub)
    sub.add_argument("--layer", help="layer whose output is pooled (default: the backbone's "
                     "last feature map)")
    _window_flags(sub)
    sub.add_argument("--size", type=_positive, help="crop size where the model leaves it open")
    sub.add_argument("--out", required=True, help="folder for the arrays")
    sub.add_argument("--format", choices=("npy", "npz"), default="npy",
                     help="NAME.npy + NAME.timestamps.npy, or one NAME.npz")
    _common(sub, flag)

    sub, flag = command("export", "export a model to SavedModel (TF Serving), TFLite or ONNX",
                        _export)
    sub.add_argument("model", metavar="MODEL", help="a registered model (with --weights), a "
                     "registered preset, a preset directory or a .keras file")
    sub.add_argument("--format", required=True, choices=("savedmodel", "tflite", "onnx"),
                     help="what to write")
    sub.add_argument("--out", required=True, help="the file (tflite, onnx) or TF Serving model "
                     "folder (savedmodel) to write")
    sub.add_argument("--quantize", choices=("fp16", "dynamic_int8", "int8"),
                     help="TFLite precision (default float32); int8 calibrates on synthetic "
                     "clips")
    sub.add_argument("--frames", type=_positive, help="clip length where the model leaves it open")
    sub.add_argument("--size", type=_positive, help="clip size where the model leaves it open")
    sub.add_argument("--weights", help="weights of a registered model (see predict --help)")
    sub.add_argument("--classes", type=_positive, help="classes of a registered model")
    sub.add_argument("--labels", help="text file of class names, one per line (default: "
                     "those the model carries)")
    _common(sub, flag)

    sub, flag = command("convert", "convert an upstream checkpoint (DeepMind I3D, torchvision, "
                        "VMZ, MMAction2, pytorchvideo) into Keras weights", _convert)
    sub.add_argument("checkpoint", metavar="CHECKPOINT", help="a PyTorch file (.pth, .pt, "
                     ".pyth, .pkl, .bin) or a TF checkpoint (prefix, .index file or folder)")
    sub.add_argument("--model", required=True, help="the registered model it belongs to")
    sub.add_argument("--to", required=True, help="the .weights.h5 file to write")
    sub.add_argument("--classes", type=_positive, help="classes of the checkpoint's head")
    _common(sub, flag)

    sub, flag = command("recipes", "list the packaged training recipes", _recipes)
    _common(sub, flag)
    sub, flag = command("presets", "list the registered presets (pretrained weights)", _presets)
    sub.add_argument("model", nargs="?", metavar="MODEL", help="only this model's")
    _common(sub, flag)
    return parser


# --------------------------------------------------------------------------- the commands

def _demo(args, overrides):
    if args.task == "detection":
        from keras_video.detection import demo as detection_demo
        result = detection_demo.run(workdir=args.workdir)
        return result, lambda: detection_demo.print_table(result)
    from keras_video import demo
    result = demo.run(workdir=args.workdir, fit_verbose="auto")
    return result, lambda: demo.print_table(result)


def _info(args, overrides):
    from keras_video import profiling, zoo
    names = zoo.list_models() if args.all else args.models
    if not names or (args.all and args.models):
        raise UsageError(f"{PROG} info: give MODEL names or --all (models: "
                         f"{', '.join(zoo.list_models())})")
    _check_models(names)
    rows = [profiling.model_info(name, args.frames, args.size) for name in _each(names)]
    result = {r["model"]: r for r in rows} if args.all or len(rows) > 1 else rows[0]
    return result, lambda: print(_table(rows, ["model", "params", "trainable_params", "gmacs",
                                               "frames", "size"]))


def _benchmark(args, overrides):
    from keras_video import benchmarking
    _check_models([args.model])
    row = benchmarking.benchmark_model(args.model, args.frames, args.size, args.batch,
                                       args.jit, args.warmup, args.repeats)
    return row, lambda: print(_table([row], ["model", "frames", "size", "batch", "jit_compile",
                                             "ms_per_clip", "clips_per_s"]))


def _train(args, overrides):
    from keras_video import training
    config = _config(args.config, overrides)
    _, history = training.train(config=config, resume=not args.restart)
    result = {"run": training.trainer.run_folder(config), "epochs_run": len(history.epoch),
              **{key: values[-1] if isinstance(values[-1], int) else float(values[-1])
                 for key, values in history.history.items()}}
    return result, lambda: _print_fields(result)


def _evaluate(args, overrides):
    from keras_video import training
    result = training.trainer.evaluate_run(_config(args.config, overrides), args.model,
                                           args.clips, args.crops, args.out,
                                           verbose=_progress_on(args))
    return result, lambda: _print_fields(result)


def _predict(args, overrides):
    from keras_video import inference
    model, weights = _model_of(args)
    results = list(inference.classify_videos(
        _each(args.videos), model, class_names=_labels(args.labels),
        weights=weights, top_k=args.top, window=args.window, stride=args.stride,
        frame_stride=args.frame_stride, fps=args.fps, size=args.size,
        on_error=_on_error(args)))
    failed = sum("error" in r for r in results)

    def show():
        for video in results:
            if "error" in video:
                print(f"{video['video']}: error: {video['error']}", file=sys.stderr)
                continue
            best = ", ".join(f"{c['class']} {c['score']:.3f}" for c in video["top"])
            print(f"{video['video']}: {best}")
            if len(video["timeline"]) > 1:
                for w in video["timeline"]:
                    print(f"  {w['start_sec']:8.2f}-{w['end_sec']:<8.2f} "
                          f"{w['top'][0]['class']} {w['top'][0]['score']:.3f}")

    return (results[0] if len(results) == 1 else results), show, failed


def _detect(args, overrides):
    from keras_video.detection import video
    if not 0 <= args.min_score <= 1:
        raise UsageError(f"{PROG} detect: --min-score must be in [0, 1], got {args.min_score}")
    found = video.detect_video(args.model, args.video, min_score=args.min_score,
                               key_frame_step=args.key_frame_step,
                               link={"method": args.link})
    found["tubes"] = found["tubes"][:args.top]
    found.pop("detections")
    if args.render:
        found["rendered"] = video.render_video(args.video, found, args.render)

    def show():
        print(f"{found['video']}: {found['frames']} frames, {len(found['tubes'])} tubes")
        for tube in found["tubes"]:
            first, last = tube["frames"][0], tube["frames"][-1]
            box = ", ".join(f"{v:.0f}" for v in tube["boxes"][0])
            print(f"  {tube['label']} {tube['score']:.3f} frames {first}-{last} "
                  f"first box [{box}]")
        if args.render:
            print(f"rendered: {found['rendered']}")

    return found, show


def _features(args, overrides):
    from keras_video import inference
    model, weights = _model_of(args)
    results = list(inference.features_of_videos(
        _each(args.videos), model, args.out, weights=weights, fmt=args.format,
        layer=args.layer, window=args.window, stride=args.stride,
        frame_stride=args.frame_stride, fps=args.fps, size=args.size,
        on_error=_on_error(args)))
    failed = sum("error" in r for r in results)

    def show():
        for r in results:
            if "error" in r:
                print(f"{r['video']}: error: {r['error']}", file=sys.stderr)
            else:
                print(f"{r['video']}: {r['windows']} x {r['channels']} -> "
                      f"{', '.join(r['paths'])}")

    return {"out": args.out, "videos": results}, show, failed


def _export(args, overrides):
    from keras_video import export
    if args.quantize and args.format != "tflite":
        raise UsageError(f"{PROG} export: --quantize applies to --format tflite only")
    result = export.export(args.model, args.format, args.out, quantize=args.quantize,
                           frames=args.frames, size=args.size, class_names=_labels(args.labels),
                           weights=args.weights, classes=args.classes,
                           progress=_progress_on(args))
    return result, lambda: _print_fields(result)


def _convert(args, overrides):
    from keras_video import zoo
    _check_models([args.model])
    kwargs = {"classes": args.classes} if args.classes else {}
    result = zoo.convert_to_file(args.checkpoint, args.model, args.to,
                                 progress=_progress_on(args), **kwargs)
    return result, lambda: print(
        f"Wrote {result['weights']}: {args.model} from {args.checkpoint}; load it with "
        f"keras_video.zoo.get({args.model!r}, weights={result['weights']!r})")


def _recipes(args, overrides):
    from keras_video import recipes
    rows = [recipes.describe(name) for name in recipes.names()]
    return {r["name"]: r for r in rows}, lambda: print(
        _table(rows, ["name", "model", "weights", "dataset"]))


def _presets(args, overrides):
    from keras_video import presets
    if args.model:
        _check_models([args.model])
    rows = []
    for name in presets.list_presets(args.model):
        preset = presets.get(name)
        # None, not "-", where a figure is unknown: --json gives null, the table "-".
        rows.append({"preset": name, "classes": preset.classes,
                     "top1": preset.metrics.get("top1"),
                     "level": preset.metrics_level, "source": preset.source})
    return {r["preset"]: r for r in rows}, lambda: print(
        _table(rows, ["preset", "classes", "top1", "level", "source"]))


# ------------------------------------------------------------------------------- helpers

def _check_models(names):
    from keras_video import zoo
    for name in names:
        try:
            zoo.get_builder(name)
        except ValueError as error:
            raise UsageError(str(error)) from None


def _on_error(args):
    """Each video's failure is one line of the results; with --debug the first one raises,
    so that its traceback shows."""
    return "raise" if getattr(args, "debug", False) else "report"


def _model_of(args):
    """What `--model` names and the weights still to load into it, with `--weights` /
    `--classes` and the clip flags checked: a model built here (a registered name or preset, a
    preset directory) is built at `--window` frames and `--size` pixels where they are given,
    since the last pool of most networks is sized for the clip, and its weights are then in
    it; a file or SavedModel holds its weights, head and shape."""
    from keras_video import inference, presets
    built_here = not os.path.exists(args.model) or presets.is_directory(args.model)
    where = f"{PROG} {args.command}"
    try:  # the library's rule, refused here as a usage error before anything loads
        inference.refuse_weights(args.model, args.weights)
    except ValueError:
        raise UsageError(f"{where}: --weights is for a registered model name; {args.model} "
                         "holds its own weights") from None
    if args.classes and not built_here:
        raise UsageError(f"{where}: --classes is for a model built here (a registered name or "
                         f"preset, a preset directory); {args.model} has a fixed head")
    frames, size = getattr(args, "window", None), getattr(args, "size", None)
    if built_here and (args.classes or frames or size):
        return inference.keras_model(args.model, args.weights, frames=frames, size=size,
                                     classes=args.classes), None
    return args.model, args.weights


def _labels(path):
    if path is None:
        return None
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def _config(recipe, overrides):
    from keras_video import training
    try:
        return training.load_config(recipe, overrides)
    except (KeyError, TypeError) as error:  # an unknown or misshapen recipe key
        raise UsageError(f"{PROG}: {error.args[0] if error.args else error}") from None


def _progress_on(args):
    return not args.json or sys.stderr.isatty()


def _each(items):
    """The items, with a `[i/n] item` line on stderr before each where there are several."""
    for i, item in enumerate(items, 1):
        if len(items) > 1:
            print(f"[{i}/{len(items)}] {item}", file=sys.stderr, flush=True)
        yield item


def _table(rows, columns):
    widths = [max(len(c), *(len(_fmt(r[c])) for r in rows)) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(_fmt(r[c]).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(lines)


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10000:
        return f"{value:,}"
    return str(value)


def _print_fields(result):
    keys = [k for k in result if not isinstance(result[k], (dict, list))]
    print("\n".join(f"{k}: {_fmt(result[k])}" for k in keys))


RECIPE_COMMANDS = ("train", "evaluate")


def split_overrides(command, args, known_flags=()):
    """`args` (a command's arguments) without its recipe overrides, and the overrides
    (`--a.b=value` or `--a.b value`) as `a.b=value` strings: every `--flag` that is not one of
    `known_flags`, with its value. They are taken out before argparse reads the rest, so that
    an override's value is not read as a positional argument (evaluate's MODEL). Commands
    other than train and evaluate take no overrides: an unknown flag there is a usage error
    (before argparse would report a required flag as missing)."""
    rest, overrides, i = [], [], 0
    while i < len(args):
        arg = args[i]
        key, equals, value = arg[2:].partition("=")
        if not arg.startswith("--") or arg == "--" or f"--{key}" in known_flags:
            rest.append(arg)
            i += 1
            continue
        if command not in RECIPE_COMMANDS:
            raise UsageError(f"{PROG} {command}: unrecognized argument {arg!r} (see "
                             f"{PROG} {command} --help)")
        if not equals:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise UsageError(f"{PROG} {command}: recipe key --{key} needs a value "
                                 f"(--{key}=VALUE or --{key} VALUE)")
            value, i = args[i + 1], i + 1
        overrides.append(f"{key}={value}")
        i += 1
    return rest, overrides


def _silence_python_logs():
    import logging

    import absl.logging
    absl.logging.set_verbosity(absl.logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def main(argv=None):
    """Runs the command line `argv` (default: `sys.argv[1:]`); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        if not argv:
            parser.print_help()
            return 0
        overrides = []
        if argv[0] in parser.commands:
            rest, overrides = split_overrides(argv[0], argv[1:], parser.commands[argv[0]])
            argv = [argv[0], *rest]
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError(f"{PROG}: give a COMMAND (see {PROG} --help)")
        if not getattr(args, "verbose", False):
            _silence_python_logs()
        # Keras prints progress on stdout; stdout is the result alone.
        with contextlib.redirect_stdout(sys.stderr):
            outcome = args.run(args, overrides)
        result, show, failed = (outcome + (0,))[:3]
        if args.json if hasattr(args, "json") else False:
            print(json.dumps(result, default=_json_default))
        else:
            show()
        return 1 if failed else 0
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a failure: one line, the traceback only with --debug
        if debug:
            raise
        print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
        return 1


def _json_default(value):
    import numpy as np
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def run():
    """The console entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
