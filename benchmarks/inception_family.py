"""Inference speed of the Inception family on this machine, beside torchvision's S3D.

    python benchmarks/inception_family.py [--frames 16 64] [--repeats 5] [--rounds 2]

Prints two Markdown tables:
1. S3D at 16x224x224, batch 1: torchvision's S3D (PyTorch, when installed) and ours with each
   speed-up switched on in turn (Conv3D ops vs factorized 2D convs; TF graph vs XLA).
   torchvision runs in a child process of its own (its OpenMP threads and TensorFlow's pools
   slow each other down when they share one), once per round; ours runs here. Each figure is
   the median over rounds of the median of `repeats` timed calls after warm-up, and the ratio is
   against torchvision measured in the same run.
2. Every family member at each clip length: params, GMACs, ms per clip (XLA), GMAC/s.
"""
import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from keras_video import benchmarking, profiling, zoo  # noqa: E402

FAMILY = ["i3d", "s3d", "s3dg", "bottom_heavy_i3d", "top_heavy_i3d", "bottom_heavy_s3d",
          "top_heavy_s3d", "fast_s3d", "c2d"]

TORCHVISION_S3D = """
import json, statistics, sys, time, torch, torchvision
frames, size, threads, warmup, repeats = map(int, sys.argv[1:])
torch.set_num_threads(threads)
model, video = torchvision.models.video.s3d().eval(), torch.rand(1, 3, frames, size, size)
times = []
with torch.no_grad():
    for i in range(warmup + repeats):
        start = time.perf_counter()
        model(video)
        times.append(time.perf_counter() - start)
print(json.dumps({"seconds": statistics.median(times[warmup:]), "version": torch.__version__}))
"""


def torchvision_s3d(frames, size, threads, warmup, repeats):
    """Seconds per clip of torchvision's S3D, measured in a fresh process."""
    args = [str(v) for v in (frames, size, threads, warmup, repeats)]
    out = subprocess.run([sys.executable, "-c", TORCHVISION_S3D, *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def s3d_table(frames, size, warmup, repeats, rounds, threads):
    have_torch = importlib.util.find_spec("torchvision") is not None
    video = tf.random.uniform((1, frames, size, size, 3), 0, 255, seed=0)
    ours = {}
    for factorize, jit in [(False, False), (False, True), (True, False), (True, True)]:
        label = (f"keras-video s3d, {'factorized 2D convs' if factorize else 'Conv3D ops'}, "
                 f"{'XLA' if jit else 'TF graph'}")
        model = zoo.S3D(input_shape=(frames, size, size, 3), factorize=factorize)
        ours[label] = benchmarking.inference_fn(model, jit_compile=jit)
    seconds = {}
    for _ in range(rounds):
        if have_torch:
            result = torchvision_s3d(frames, size, threads, warmup, repeats)
            label = f"torchvision s3d (PyTorch {result['version']}, {threads} threads)"
            seconds.setdefault(label, []).append(result["seconds"])
        for label, fn in ours.items():
            seconds.setdefault(label, []).append(
                benchmarking.time_fn(fn, video, warmup, repeats))
    seconds = {label: statistics.median(s) for label, s in seconds.items()}
    reference = next(iter(seconds.values())) if have_torch else None
    print(f"\n### S3D, {frames}x{size}x{size}, batch 1\n")
    print("| implementation | ms per clip | speed-up vs torchvision |")
    print("| --- | ---: | ---: |")
    for name, s in seconds.items():
        ratio = f"{reference / s:.2f}x" if reference else "n/a"
        print(f"| {name} | {1000 * s:.0f} | {ratio} |", flush=True)


def family_table(models, frames_list, size, warmup, repeats):
    print(f"\n### Inception family, {size}x{size}, batch 1, XLA\n")
    print("| model | frames | params | GMACs | ms per clip | GMAC/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for frames in frames_list:
        for name in models:
            model = zoo.get(name, input_shape=(frames, size, size, 3))
            counts = profiling.profile(model, frames, size)
            result = benchmarking.benchmark(model, frames, size, 1, True, warmup, repeats)
            seconds = result["ms_per_clip"] / 1000
            print(f"| {name} | {frames} | {counts['trainable_params']:,} | "
                  f"{counts['gmacs']:.2f} | {result['ms_per_clip']:.0f} | "
                  f"{counts['gmacs'] / seconds:.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--models", nargs="+", default=FAMILY)
    parser.add_argument("--skip-family", action="store_true")
    args = parser.parse_args()
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"TensorFlow {tf.__version__}")
    s3d_table(16, args.size, args.warmup, args.repeats, args.rounds, args.threads)
    if not args.skip_family:
        family_table(args.models, args.frames, args.size, args.warmup, args.repeats)


if __name__ == "__main__":
    main()
