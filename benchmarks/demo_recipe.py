"""How reliably the demo's S3D-G recipe reaches its target: one training per seed, each with
its held-out accuracy, the table behind docs/benchmarks.md "The demo".

    python benchmarks/demo_recipe.py [--seeds 0,1,2,3,4] [--classes a,b,...] [--frames T]
                                     [--model s3dg] [--workdir DIR] [key=value ...]

Writes the demo's videos once (`--classes`: other classes of `keras_video.data.MOTION_CLASSES`,
e.g. the earlier demo's `move_left,move_right,move_up,move_down,approach,recede` with
`--frames 17`), then trains `--model` with the demo's recipe for each seed. `key=value`
overrides change the recipe as `keras-video train` takes them: `optimizer.learning_rate=5e-3`
and `epochs=10` are rows of that table, `optimizer.name=sgd optimizer.learning_rate=0.1
optimizer.momentum=0.9 optimizer.nesterov=true optimizer.weight_decay=1e-4` the earlier SGD
recipe, `model.kwargs.bn_momentum=0.99` Keras' BatchNorm default. All seeds read one
cache of decoded clips; the seed sets the initial weights and the order of the clips. A run is
seeded, so one machine repeats its numbers; the spread across seeds is what carries to other
machines. About 2 minutes per seed on 2 CPU cores.
"""
import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_video import demo  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--classes", help="comma-separated class names (default: the demo's)")
    parser.add_argument("--frames", type=int, help="frames per video (default: the demo's)")
    parser.add_argument("--model", default="s3dg")
    parser.add_argument("--workdir", help="folder for the videos, decoded clips and runs "
                        "(default: a new one; reuse one only with the same classes)")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = dict(demo.DEMO)
    if args.classes:
        settings["classes"] = tuple(args.classes.split(","))
    if args.frames:
        settings["frames"] = args.frames
    workdir = args.workdir or tempfile.mkdtemp(prefix="keras-video-demo-recipe-")
    print(f"writing the videos to {workdir}", file=sys.stderr)
    train_dir, test_list = demo.write_videos(workdir, settings, progress=False)  # stdout: the table

    print(f"\n{args.model}, {len(settings['classes'])} classes, {len(test_list)} held-out "
          f"videos, overrides: {' '.join(args.overrides) or 'none'}\n")
    print(f"{'seed':>4}  {'train accuracy per epoch':<48} {'held-out':>8} {'train s':>7}")
    for seed in seeds:
        tag = "_".join([args.model, f"seed{seed}"] + [o.replace("=", "-") for o in args.overrides])
        _, history, report, seconds = demo.train_and_evaluate(
            args.model, train_dir, test_list, workdir, settings, name=tag,
            overrides=[f"seed={seed}", *args.overrides])
        curve = " ".join(f"{a:.2f}" for a in history.history["accuracy"])
        print(f"{seed:>4}  {curve:<48} {report['video_top1']:8.3f} {seconds:7.0f}", flush=True)


if __name__ == "__main__":
    main()
