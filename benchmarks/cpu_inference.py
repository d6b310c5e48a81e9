"""CPU inference of keras-video against what a CPU deployer would run instead: the PyTorch
model exported to ONNX and run by onnxruntime.

    python benchmarks/cpu_inference.py [--models s3d ir_csn_50] [--batches 1 8]
        [--frames 16] [--size 224] [--threads 2] [--rounds 3] [--repeats 3] [--workdir DIR]

Peers (random weights; speed does not depend on them), exported by `torch.onnx.export`
(TorchScript exporter, opset 17, dynamic batch) in a child process, since torchvision and
TensorFlow 2.21 cannot share one:
- s3d: torchvision's `s3d()`;
- ir_csn_50: pytorchvideo's `create_csn(model_depth=50)` with the stem max pool of its hub
  models (grouped 3D convs).
keras-video's rows: the model in Keras (XLA, and the plain TF graph), its `export_onnx` file in
onnxruntime, and its `export_tflite` float32 file on XNNPACK (the file takes one clip per
call, so a batch runs as that many calls, as a TFLite server would run it). onnxruntime runs
peer and ours with the same session options.

Every runtime gets `--threads` threads. All candidates of one (model, batch) are timed in
`--rounds` alternating rounds (median of `--repeats` calls after a warm-up call each round);
the table shows the median over rounds. "vs peer" is the peer's time over the row's (above 1:
faster than the peer). "% of peak" compares with the floor: the model's multiply-adds at the
float32 matmul rate numpy's BLAS reaches on this machine with as many threads (measured in a
child process at the start). The script checks that the peers' packages are installed and
says which are missing.
"""
import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PEERS = {
    "s3d": ("torchvision S3D", ["torch", "torchvision"],
            "import torchvision\nmodel = torchvision.models.video.s3d()"),
    "ir_csn_50": ("pytorchvideo CSN-50", ["torch", "pytorchvideo"],
                  "from pytorchvideo.models.csn import create_csn\n"
                  "model = create_csn(model_depth=50, stem_pool=torch.nn.MaxPool3d,\n"
                  "                   head_pool_kernel_size=(1, size // 32, size // 32))"),
}
PEER_EXPORT = """
import json, sys, torch
path, frames, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
{build}
model.eval()
torch.onnx.export(model, (torch.rand(1, 3, frames, size, size),), path, opset_version=17,
                  dynamo=False, input_names=["video"], output_names=["logits"],
                  dynamic_axes={{"video": {{0: "batch"}}, "logits": {{0: "batch"}}}})
print(json.dumps({{"torch": torch.__version__}}))
"""
MATMUL = "from keras_video.benchmarking import matmul_gflops; print(matmul_gflops())"
VERSIONS = ("tensorflow", "keras", "onnxruntime", "onnx", "tf2onnx", "ai-edge-litert", "torch",
            "torchvision", "pytorchvideo", "numpy")
OURS_NEED = ["onnx", "tf2onnx", "onnxruntime", "ai_edge_litert"]


def missing(modules):
    return [m for m in modules if importlib.util.find_spec(m) is None]


def version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return names[0] if names else platform.processor()
    except OSError:
        return platform.processor() or platform.machine()


def matmul_peak(threads):
    """GFLOP/s of a float32 matmul with `threads` BLAS threads, in a fresh process."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", MATMUL], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def export_peer(name, path, frames, size, threads):
    """Writes the peer's ONNX file; returns None, or why it could not."""
    label, modules, build = PEERS[name]
    lacking = missing(modules + ["onnx"])
    if lacking:
        return f"not installed: {', '.join(lacking)} (pip install {' '.join(lacking)})"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run([sys.executable, "-c", PEER_EXPORT.format(build=build), path,
                             str(frames), str(size)], env=env, capture_output=True, text=True)
    if result.returncode:
        return f"export failed: {result.stderr.strip().splitlines()[-1]}"
    return None


def session(path, threads):
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnx_fn(sess):
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def peer_label(name):
    return f"{PEERS[name][0]} -> ONNX -> onnxruntime"


def candidates_for(name, frames, size, batches, threads, workdir):
    """`{batch: {label: (fn, inputs)}}` and the model's GMACs per clip."""
    import numpy as np
    import tensorflow as tf

    from keras_video import benchmarking, export, profiling, zoo
    model = zoo.get(name, input_shape=(frames, size, size, 3))
    gmacs = profiling.count_macs(model, frames, size) / 1e9
    rng = np.random.default_rng(0)
    peer_path = os.path.join(workdir, f"{name}_peer.onnx")
    peer_error = export_peer(name, peer_path, frames, size, threads) if name in PEERS else \
        "no peer for this model"
    onnx_path = export.export_onnx(model, os.path.join(workdir, f"{name}.onnx"))["path"]
    lite = export.load(export.export_tflite(model, os.path.join(workdir, f"{name}.tflite"))
                       ["path"], num_threads=threads)
    ours_onnx = onnx_fn(session(onnx_path, threads))
    peer = onnx_fn(session(peer_path, threads)) if peer_error is None else None
    table = {}
    for batch in batches:
        clips = rng.integers(0, 256, (batch, frames, size, size, 3)).astype(np.float32)
        rows = {}
        if peer is not None:
            rows[peer_label(name)] = (
                peer, np.ascontiguousarray(clips.transpose(0, 4, 1, 2, 3) / 255))
        rows["keras-video ONNX -> onnxruntime"] = (ours_onnx, clips)
        rows["keras-video Keras, XLA"] = (benchmarking.inference_fn(model, True),
                                          tf.constant(clips))
        rows["keras-video Keras, TF graph"] = (benchmarking.inference_fn(model, False),
                                               tf.constant(clips))
        rows["keras-video TFLite fp32, XNNPACK" + (", one clip per call" if batch > 1
                                                   else "")] = (lite, clips)
        table[batch] = rows
    return table, gmacs, peer_error


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(PEERS))
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=None, help="keep the exported files here")
    args = parser.parse_args()
    lacking = missing(OURS_NEED)
    if lacking:
        sys.exit(f"keras-video's exports need {', '.join(lacking)}: "
                 "pip install 'keras-video[export]'")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    from keras_video import benchmarking
    peak = matmul_peak(args.threads)
    versions = ", ".join(f"{p} {v}" for p in VERSIONS if (v := version(p)))
    print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"cpu: {cpu_name()}, {os.cpu_count()} cores; {args.threads} threads per runtime")
    print(f"versions: {versions}")
    print(f"float32 matmul peak (numpy BLAS, {args.threads} threads): {peak:.0f} GFLOP/s")
    print(f"{args.frames}x{args.size}x{args.size} clips; each row: the median over "
          f"{args.rounds} alternating rounds of the median of {args.repeats} calls")
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or scratch
        os.makedirs(workdir, exist_ok=True)  # a --workdir that does not exist yet
        for name in args.models:
            print(f"{name}: exporting", file=sys.stderr, flush=True)
            table, gmacs, peer_error = candidates_for(name, args.frames, args.size, args.batches,
                                                      args.threads, workdir)
            floor_ms = 1000 * 2 * gmacs / peak
            if peer_error:
                notes.append(f"{name}: no peer row ({peer_error})")
            for batch, candidates in table.items():
                print(f"{name}: timing batch {batch}", file=sys.stderr, flush=True)
                seconds = benchmarking.alternating_rounds(candidates, args.rounds, 1,
                                                          args.repeats)
                ms = {label: 1000 * statistics.median(s) / batch for label, s in seconds.items()}
                peer_ms = ms.get(peer_label(name)) if name in PEERS else None
                if not rows:  # the table's rows print as each batch is timed
                    print("\n| model | GMACs | floor ms | batch | runtime | ms per clip | "
                          "clips/s | vs peer | % of peak |")
                    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
                for label, value in ms.items():
                    row = dict(model=name, batch=batch, runtime=label, ms=value,
                               vs_peer=peer_ms / value if peer_ms else None,
                               peak=floor_ms / value)
                    rows.append(row)
                    vs = f"{row['vs_peer']:.2f}x" if row["vs_peer"] else "n/a"
                    print(f"| {name} | {gmacs:.1f} | {floor_ms:.0f} | {batch} | {label} | "
                          f"{value:.0f} | {1000 / value:.2f} | {vs} | {100 * row['peak']:.0f}% |",
                          flush=True)
    for note in notes:
        print(note)
    print(json.dumps({"rows": rows, "matmul_gflops": peak}), file=sys.stderr)


if __name__ == "__main__":
    main()
