"""Training throughput (clips/s) of full-size S3D-G and ir-CSN-152: float32 against mixed
precision, XLA on and off, measured in one run on whatever device TensorFlow sees.

    python benchmarks/training.py [--models s3dg ir_csn_152] [--batch 8] [--steps 10]

Mixed precision is float16 on a GPU and bfloat16 elsewhere (CPU, TPU), as Keras recommends.
Each row: one model.fit step per batch of random clips (the input pipeline is not measured;
benchmarks/data_pipeline.py does that), median seconds per step after 2 warm-up steps.
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_video import zoo  # noqa: E402

FRAMES = {"s3dg": 64, "ir_csn_152": 32}  # the papers' training clip lengths


class StepTimer(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self.start)

    def on_train_begin(self, logs=None):
        self.times = []


def measure(name, frames, size, batch, steps, precision, jit):
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = zoo.get(name, input_shape=(frames, size, size, 3), classes=400)
        model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy",
                      jit_compile=jit)
        rng = np.random.default_rng(0)
        clips = rng.integers(0, 256, (batch, frames, size, size, 3)).astype("uint8")
        labels = rng.integers(0, 400, batch)
        dataset = tf.data.Dataset.from_tensors((clips, labels)).repeat()
        timer = StepTimer()
        model.fit(dataset, steps_per_epoch=steps + 2, epochs=1, callbacks=[timer], verbose=0)
        return batch / float(np.median(timer.times[2:]))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(FRAMES))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--frames", type=int, default=None, help="default: the papers' lengths")
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    mixed = "mixed_float16" if gpus else "mixed_bfloat16"
    device = (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
              if gpus else f"CPU ({os.cpu_count()} cores)")
    print(f"device: {device}; TensorFlow {tf.__version__}; batch {args.batch}; "
          f"{args.steps} timed steps\n")
    print("| model | frames | precision | XLA | clips/s | vs float32 no XLA |")
    print("| --- | ---: | --- | --- | ---: | ---: |")
    for name in args.models:
        frames = args.frames or FRAMES.get(name, 16)
        base = None
        for precision in ("float32", mixed):
            for jit in (False, True):
                rate = measure(name, frames, args.size, args.batch, args.steps, precision, jit)
                base = base or rate
                print(f"| {name} | {frames} | {precision} | {'on' if jit else 'off'} | "
                      f"{rate:.2f} | {rate / base:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
