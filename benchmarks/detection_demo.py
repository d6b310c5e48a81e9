"""Runs the detection demo (`keras_video.detection.demo`) or its trials: the S3D-G and C2D
detectors trained and evaluated on the synthetic orbit scenes, with the recipe's settings
overridden by `key=value` arguments (values read as YAML), one or several seeds.

    python benchmarks/detection_demo.py                        # the demo as shipped
    python benchmarks/detection_demo.py --models s3dg --seeds 0 1 epochs=4 learning_rate=5e-3

Prints one JSON line per run: the frame-mAPs, video-mAPs, training seconds, and the wall and
process CPU seconds of the whole run (CPU seconds count every thread; on a shared machine they
say more about the cost than the wall clock does).
"""
import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

import yaml


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["s3dg", "c2d"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--workdir", default=None, help="reuse videos written there before")
    parser.add_argument("overrides", nargs="*", help="key=value settings of demo.DEMO")
    args = parser.parse_args()
    from keras_video.detection import demo, synthetic

    settings = dict(demo.DEMO)
    for text in args.overrides:
        key, _, value = text.partition("=")
        if key not in settings:
            raise SystemExit(f"unknown setting {key!r}; the settings are {sorted(settings)}")
        settings[key] = yaml.safe_load(value)
    workdir = args.workdir or tempfile.mkdtemp(prefix="detection-demo-")
    root = os.path.join(workdir, "videos")
    for seed in args.seeds:
        run = {**settings, "seed": seed}
        begin, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(sys.stderr):
            truth = synthetic.write_detection_videos(
                root, run["train_videos"], run["test_videos"], num_frames=run["frames"],
                size=run["size"], seed=seed)
            result = {"seed": seed, "settings": {k: run[k] for k in sorted(run)},
                      "write_seconds": time.perf_counter() - begin}
            for name in args.models:
                model, history, report, seconds = demo.train_and_evaluate(name, truth, root, run)
                result[name] = {"frame_map": report["frame_mAP@0.5"],
                                "video_map": report["video_mAP@0.5"],
                                "per_class_frame_ap": {k: v["frame_AP@0.5"] for k, v in
                                                       report["per_class"].items()},
                                "train_seconds": seconds, "eval_seconds": report["seconds"],
                                "loss": history.history["loss"],
                                "params": model.count_params()}
        result["seconds"] = time.perf_counter() - begin
        result["cpu_seconds"] = time.process_time() - cpu
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
