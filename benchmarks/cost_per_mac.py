"""Time per GMAC of ir-CSN-152 against S3D at 32x224x224 (batch 1), in one run.

    python benchmarks/cost_per_mac.py [--frames 32] [--repeats 3]

Channel separation only pays if the depthwise convs are not the bottleneck: ir-CSN-152's
ms per GMAC should stay within 1.5x of S3D's. Each model is timed in TF graph mode and with
XLA; the ratio uses each model's faster mode.
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from keras_video import benchmarking, profiling, zoo  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["s3d", "ir_csn_152"])
    args = parser.parse_args()
    print("| model | GMACs | mode | ms per clip | ms per GMAC |")
    print("| --- | ---: | --- | ---: | ---: |")
    best = {}
    for name in args.models:
        model = zoo.get(name, input_shape=(args.frames, args.size, args.size, 3))
        gmacs = profiling.count_macs(model, args.frames, args.size) / 1e9
        for jit in (False, True):
            ms = benchmarking.benchmark(model, args.frames, args.size, 1, jit, 1,
                                        args.repeats)["ms_per_clip"]
            best[name] = min(best.get(name, float("inf")), ms / gmacs)
            print(f"| {name} | {gmacs:.2f} | {'XLA' if jit else 'TF graph'} | {ms:.0f} | "
                  f"{ms / gmacs:.1f} |", flush=True)
    first, *others = args.models
    for name in others:
        print(f"\n{name} ms per GMAC / {first} ms per GMAC (best modes): "
              f"{best[name] / best[first]:.2f}")


if __name__ == "__main__":
    main()
