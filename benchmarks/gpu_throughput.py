"""Training and inference clips/s on the GPU: S3D-G (64 frames) and ir-CSN-152 (32 frames) at
224x224, float32 against mixed precision, XLA on and off, beside torchvision's S3D trained
with AMP in the same run. Run by benchmarks/gpu_check.sh.

    python benchmarks/gpu_throughput.py [--batch 8] [--infer-batch 32] [--steps 5]
                                        [--budget-s 240] [--tiny]

Training: `model.fit` steps (SGD with momentum, sparse cross-entropy) on one batch of random
clips kept on the device, median seconds per step after 2 warm-up steps (which hold the XLA
compile). Inference: `benchmarking.inference_fn` (a `tf.function`, XLA as the row says) at
`--infer-batch`. torchvision's S3D runs first, in a child process (torchvision and TensorFlow
2.21 cannot share one), with `torch.autocast` float16 and a `GradScaler`, channels-first
input of the same shape (`TORCH_PYTHON` names an interpreter with torch, if not this one).
Mixed precision is float16 on a GPU and bfloat16 on a CPU, as Keras
recommends. Rows that would start after `--budget-s` are listed as skipped, so the whole
check keeps to its time. `--tiny` (tiny widths, 8x32x32 clips, 2 timed steps) proves the
script end to end on a CPU; its numbers mean nothing.
"""
import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = {"s3dg": 64, "ir_csn_152": 32}  # the papers' training clip lengths
TORCH_S3D = """
import json, statistics, sys, time, torch, torchvision
frames, size, batch, infer_batch, steps, tiny = map(int, sys.argv[1:])
device = "cuda" if torch.cuda.is_available() else "cpu"
half = torch.float16 if device == "cuda" else torch.bfloat16
model = torchvision.models.video.s3d(num_classes=400)
if tiny:  # torchvision's head pools a fixed 2x7x7 window: let it take tiny clips
    model.avgpool = torch.nn.AdaptiveAvgPool3d(1)
model = model.to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
scaler = torch.amp.GradScaler(device, enabled=device == "cuda")
video = torch.rand(batch, 3, frames, size, size, device=device)
labels = torch.randint(0, 400, (batch,), device=device)

def sync():
    if device == "cuda":
        torch.cuda.synchronize()

def step():
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device, dtype=half):
        loss = torch.nn.functional.cross_entropy(model(video), labels)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()

times = []
for i in range(steps + 2):
    sync(); start = time.perf_counter(); step(); sync()
    times.append(time.perf_counter() - start)
train = batch / statistics.median(times[2:])
model.eval()
clips = torch.rand(infer_batch, 3, frames, size, size, device=device)
times = []
with torch.no_grad(), torch.autocast(device, dtype=half):
    for i in range(steps + 2):
        sync(); start = time.perf_counter(); model(clips); sync()
        times.append(time.perf_counter() - start)
print(json.dumps({"train": train, "infer": infer_batch / statistics.median(times[2:]),
                  "device": device, "torch": torch.__version__}))
"""


def torchvision_s3d(frames, size, batch, infer_batch, steps, tiny):
    args = [str(v) for v in (frames, size, batch, infer_batch, steps, int(tiny))]
    python = os.environ.get("TORCH_PYTHON") or sys.executable
    result = subprocess.run([python, "-c", TORCH_S3D, *args], capture_output=True, text=True)
    if result.returncode:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def train_rate(name, frames, size, batch, steps, precision, jit, model_kwargs):
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_video import zoo
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = zoo.get(name, input_shape=(frames, size, size, 3), classes=400, **model_kwargs)
        model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                      "sparse_categorical_crossentropy", jit_compile=jit)
        rng = np.random.default_rng(0)
        clips = tf.constant(rng.integers(0, 256, (batch, frames, size, size, 3)), tf.uint8)
        labels = tf.constant(rng.integers(0, 400, batch))
        times = []
        for _ in range(steps + 2):  # train_on_batch: one compiled step, synchronous result
            start = time.perf_counter()
            model.train_on_batch(clips, labels)
            times.append(time.perf_counter() - start)
        return batch / float(np.median(times[2:]))
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


def infer_rate(name, frames, size, batch, steps, precision, jit, model_kwargs):
    import keras
    import tensorflow as tf

    from keras_video import benchmarking, zoo
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = zoo.get(name, input_shape=(frames, size, size, 3), classes=400, **model_kwargs)
        clips = tf.random.uniform((batch, frames, size, size, 3), 0, 255, seed=0)
        seconds = benchmarking.time_fn(benchmarking.inference_fn(model, jit), clips, 2, steps)
        return batch / seconds
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--infer-batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--budget-s", type=float, default=240)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    start = time.monotonic()
    size, batch, infer_batch, steps = args.size, args.batch, args.infer_batch, args.steps
    frames_of, model_kwargs = dict(MODELS), {}
    if args.tiny:
        size, batch, infer_batch, steps = 32, 2, 4, 2
        frames_of = {name: 8 for name in MODELS}
        model_kwargs = dict(width_multiplier=0.125, min_width=4)

    peer = torchvision_s3d(frames_of["s3dg"], size, batch, infer_batch, steps, args.tiny)
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:  # the torch child has exited; take memory as needed, not all at once
        tf.config.experimental.set_memory_growth(gpu, True)
    mixed = "mixed_float16" if gpus else "mixed_bfloat16"
    device = (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
              if gpus else f"CPU ({os.cpu_count()} cores)")
    print(f"device: {device}; TensorFlow {tf.__version__}; train batch {batch}, inference "
          f"batch {infer_batch}, {size}x{size}; median of {steps} steps after 2 warm-up"
          f"{' (--tiny: tiny widths, numbers mean nothing)' if args.tiny else ''}\n")

    def over_budget():
        return time.monotonic() - start > args.budget_s

    print("| model | frames | task | precision | XLA | clips/s |")
    print("| --- | ---: | --- | --- | --- | ---: |")
    s3d_frames = frames_of["s3dg"]
    for task in ("train", "infer"):
        label = f"torchvision s3d (PyTorch {peer.get('torch', '?')}, AMP)"
        value = f"{peer[task]:.2f}" if task in peer else peer["error"]
        print(f"| {label} | {s3d_frames} | {task} | amp | n/a | {value} |", flush=True)
    # The telling rows first (Keras' defaults and the fastest setting, training and
    # inference), so that a tight budget drops the others.
    first = [("train", "float32", False), ("train", mixed, True), ("infer", mixed, True),
             ("infer", "float32", False)]
    rest = [(task, precision, jit) for task in ("train", "infer")
            for precision in ("float32", mixed) for jit in (False, True)
            if (task, precision, jit) not in first]
    configs = [(task, name, precision, jit) for group in (first, rest) for name in MODELS
               for task, precision, jit in group]
    for task, name, precision, jit in configs:
        frames = frames_of[name]
        if over_budget():
            value = "skipped (time budget)"
        else:
            measure = train_rate if task == "train" else infer_rate
            try:
                rate = measure(name, frames, size, batch if task == "train" else infer_batch,
                               steps, precision, jit, model_kwargs)
                value = f"{rate:.2f}"
            except Exception as error:  # noqa: BLE001  (a row's failure is its result)
                value = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
        print(f"| {name} | {frames} | {task} | {precision} | {'on' if jit else 'off'} | "
              f"{value} |", flush=True)
    print(f"\ntotal {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
