"""Inference speed of a model on this machine: median time per clip after warm-up."""
import statistics
import time

import numpy as np
import tensorflow as tf

from keras_video import zoo


def inference_fn(model, jit_compile=True):
    """The model's inference-mode forward pass as a `tf.function`, XLA-compiled by default.

    XLA is what makes the factorized (2D) convolutions of the zoo fast on CPU; Keras' own
    `predict` leaves XLA off on CPU-only machines unless `model.compile(jit_compile=True)`.
    """
    return tf.function(lambda x: model(x, training=False), jit_compile=jit_compile,
                       autograph=False, reduce_retracing=True)


def time_fn(fn, inputs, warmup=2, repeats=5):
    """Seconds per call of `fn(inputs)`: the median of `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        np.asarray(fn(inputs))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(fn(inputs))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def benchmark(model, frames=16, size=224, batch=1, jit_compile=True, warmup=2, repeats=5):
    """Times `model` (built for any input size) on random `batch x frames x size x size` video.

    Returns a JSON-ready dict: model, frames, size, batch, jit_compile, ms_per_clip, clips_per_s.
    """
    channels = model.inputs[0].shape[-1]
    video = tf.random.uniform((batch, frames, size, size, channels), 0, 255, seed=0)
    seconds = time_fn(inference_fn(model, jit_compile), video, warmup, repeats)
    return {"model": model.name, "frames": frames, "size": size, "batch": batch,
            "jit_compile": jit_compile, "ms_per_clip": 1000 * seconds / batch,
            "clips_per_s": batch / seconds}


def benchmark_model(model_name, frames=16, size=224, batch=1, jit_compile=True, warmup=2,
                    repeats=5):
    """`benchmark` of the registered `model_name`, built with random weights for the clip."""
    model = zoo.get(model_name, input_shape=(frames, size, size, 3))
    return {**benchmark(model, frames, size, batch, jit_compile, warmup, repeats),
            "model": zoo.get_builder(model_name).registry_name}


def alternating_rounds(candidates, rounds=3, warmup=1, repeats=5):
    """Seconds per call of each `{label: (fn, inputs)}`, timed in `rounds` rounds that visit
    every candidate in turn, so that a load change on a shared machine hits them all alike.
    Each round's figure is `time_fn`'s median; returns `{label: [seconds per round]}`."""
    seconds = {label: [] for label in candidates}
    for _ in range(rounds):
        for label, (fn, inputs) in candidates.items():
            seconds[label].append(time_fn(fn, inputs, warmup, repeats))
    return seconds


def matmul_gflops(size=2048, repeats=5):
    """The float32 matmul rate of this process's BLAS (numpy) in GFLOP/s: the best of
    `repeats` `size x size` products, a practical ceiling for convolutions, which are matmuls.
    The BLAS thread count is fixed when numpy loads (e.g. `OPENBLAS_NUM_THREADS`)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9
