"""Depthwise 3D convolution speed at ResNet stage sizes (ir-CSN at 32x224x224, batch 1).

    python benchmarks/depthwise3d.py [--repeats 5]

Prints ms per call of a 3x3x3 depthwise conv as `keras_video.layers.DepthwiseConv3D` (each
implementation, TF graph and XLA), as `keras.layers.Conv3D(groups=C)`, and of a dense
`Conv3D` of the same shape, with each one's MACs.
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_video.benchmarking import time_fn  # noqa: E402
from keras_video.layers import DepthwiseConv3D  # noqa: E402

STAGES = [(32, 56, 64), (16, 28, 128), (8, 14, 256), (4, 7, 512)]  # frames, size, channels


def candidates(channels):
    yield "DepthwiseConv3D depthwise2d", DepthwiseConv3D(implementation="depthwise2d"), 1
    yield "DepthwiseConv3D shifts", DepthwiseConv3D(implementation="shifts"), 1
    yield "Conv3D(groups=C)", keras.layers.Conv3D(channels, 3, padding="same", groups=channels,
                                                  use_bias=False), 1
    yield "dense Conv3D", keras.layers.Conv3D(channels, 3, padding="same", use_bias=False), \
        channels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| stage (T, HxW, C) | layer | GMACs | TF graph ms | XLA ms |")
    print("| --- | --- | ---: | ---: | ---: |")
    for frames, size, channels in STAGES:
        x = tf.random.normal((1, frames, size, size, channels))
        for name, layer, fan_in in candidates(channels):
            layer.build(x.shape)
            macs = frames * size * size * channels * 27 * fan_in / 1e9
            times = [1000 * time_fn(tf.function(layer, jit_compile=jit, autograph=False), x, 2,
                                    args.repeats) for jit in (False, True)]
            print(f"| {frames}, {size}x{size}, {channels} | {name} | {macs:.3f} | "
                  f"{times[0]:.1f} | {times[1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
