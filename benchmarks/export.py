"""Latency per clip of exported models on this machine, each runtime against Keras.

    python benchmarks/export.py [--models s3dg ir_csn_50] [--frames 16 --size 224]
                                [--repeats 5] [--threads 2] [--workdir DIR]

For each model (random weights; speed does not depend on them): Keras (TF graph, and XLA
where it helps), the TF Serving SavedModel, TFLite fp32 / fp16 / dynamic-range int8 / int8
with XNNPACK (or the reference kernels where XNNPACK refuses the graph: the `runtime` column
says which), and onnxruntime. Prints ms per clip (median of `--repeats` after two warm-up
calls), each as a ratio to Keras, and the exported sizes in MB.
"""
import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_video import export, zoo  # noqa: E402
from keras_video.benchmarking import inference_fn, time_fn  # noqa: E402


def folder_size(path):
    return sum(os.path.getsize(os.path.join(root, f))
               for root, _, files in os.walk(path) for f in files)


def rows_for(name, frames, size, repeats, threads, workdir):
    model = zoo.get(name, input_shape=(frames, size, size, 3))
    clip = np.random.default_rng(0).integers(0, 256, (1, frames, size, size, 3)).astype("uint8")
    floats = tf.constant(clip, tf.float32)
    keras_ms = 1000 * time_fn(inference_fn(model, jit_compile=False), floats, 2, repeats)
    rows = [dict(model=name, runtime="keras (tf graph)", ms=keras_ms, mb=None)]
    if not name.startswith(("ir_csn", "ip_csn")):  # XLA compiles depthwise convs poorly on CPU
        rows.append(dict(model=name, runtime="keras (xla)", mb=None, ms=1000 * time_fn(
            inference_fn(model, jit_compile=True), floats, 2, repeats)))

    def step(message):
        print(f"  {name}: {message}", file=sys.stderr, flush=True)

    step("SavedModel")
    path = export.export_savedmodel(model, os.path.join(workdir, name), warmup=False)
    rows.append(timed(name, "savedmodel", export.load(path), clip, repeats, folder_size(path)))
    step("TFLite fp32, fp16, dynamic_int8, int8")
    reports = export.export_tflite_precisions(
        model, {quantize: os.path.join(workdir, f"{name}_{quantize}.tflite")
                for quantize in export.QUANTIZATIONS})
    for quantize, report in reports.items():
        predictor = export.load(report["path"], num_threads=threads)
        rows.append(timed(name, f"tflite {quantize or 'fp32'} ({predictor.delegate})",
                          predictor, clip, repeats, report["bytes"]))
    step("ONNX")
    report = export.export_onnx(model, os.path.join(workdir, f"{name}.onnx"))
    rows.append(timed(name, "onnxruntime", export.load(report["path"], num_threads=threads),
                      clip, repeats, report["bytes"]))
    for row in rows:
        row["vs_keras"] = row["ms"] / keras_ms
    return rows


def timed(name, runtime, predictor, clip, repeats, size_bytes):
    seconds = time_fn(predictor, clip, 2, repeats)
    return dict(model=name, runtime=runtime, ms=1000 * seconds, mb=size_bytes / 2 ** 20)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["s3dg", "ir_csn_50"])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--workdir", default=None, help="keep the exported files here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or scratch
        rows = [row for name in args.models
                for row in rows_for(name, args.frames, args.size, args.repeats, args.threads,
                                    workdir)]
    print(f"\n{args.frames}x{args.size}x{args.size} clips, batch 1, {args.threads} threads, "
          f"median of {args.repeats}")
    print(f"{'model':<10} {'runtime':<34} {'ms/clip':>9} {'vs keras':>9} {'MB':>7}")
    for r in rows:
        mb = f"{r['mb']:7.1f}" if r["mb"] is not None else f"{'':>7}"
        print(f"{r['model']:<10} {r['runtime']:<34} {r['ms']:9.1f} {r['vs_keras']:9.2f} {mb}")


if __name__ == "__main__":
    main()
