#!/usr/bin/env bash
# The GPU check, on a machine with an NVIDIA GPU, in about 8 minutes:
#   1. installs TensorFlow with its CUDA libraries (the version this project is tested with)
#      and the package, and torch / torchvision for the peer in a virtual environment beside;
#   2. runs the layer and model tests with the GPU visible (DepthwiseConv3D's training test
#      included), and fails if TensorFlow sees no GPU;
#   3. prints training clips/s of S3D-G (64 frames) and ir-CSN-152 (32 frames) at 224x224,
#      float32 and mixed precision, XLA on and off, beside torchvision's S3D trained with AMP,
#      and inference clips/s at batch 32 (benchmarks/gpu_throughput.py).
#
#   bash benchmarks/gpu_check.sh [--tiny] [--no-install]
#
# --tiny: a dry run that proves the script end to end on a CPU (no GPU required, a few layer
# tests, tiny models; its numbers mean nothing). --no-install: use the Python environment as
# it is (PYTHON names its interpreter, default python3; TORCH_PYTHON the one with torch, default
# PYTHON). TF_VERSION, TORCH_VERSION and TORCHVISION_VERSION override the pins below.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TF_VERSION=${TF_VERSION:-2.21.0}
TORCH_VERSION=${TORCH_VERSION:-2.14.1}
TORCHVISION_VERSION=${TORCHVISION_VERSION:-0.29.1}
tiny=0
install=1
for arg in "$@"; do
    case $arg in
        --tiny) tiny=1 ;;
        --no-install) install=0 ;;
        *) echo "usage: bash benchmarks/gpu_check.sh [--tiny] [--no-install]" >&2; exit 2 ;;
    esac
done
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1
start=$SECONDS
phase() { echo; echo "== $1 ($((SECONDS - start)) s)"; }

# torch goes to a virtual environment of its own: its CUDA libraries and TensorFlow's pin
# different versions of the same nvidia-* packages.
TORCH_ENV=${TORCH_ENV:-/tmp/keras-video-gpu-check-torch}
if [ $install = 1 ]; then
    phase "installing tensorflow[and-cuda]==$TF_VERSION and keras-video; torch==$TORCH_VERSION"
    "$PYTHON" -m pip install -q "tensorflow[and-cuda]==$TF_VERSION" -e . pytest pytest-timeout
    "$PYTHON" -m venv "$TORCH_ENV"
    "$TORCH_ENV/bin/python" -m pip install -q "torch==$TORCH_VERSION" \
        "torchvision==$TORCHVISION_VERSION"
    export TORCH_PYTHON=$TORCH_ENV/bin/python
fi

phase "devices"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv,noheader || echo "nvidia-smi: not found"
"$PYTHON" - "$tiny" <<'EOF'
import sys
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
print(f"TensorFlow {tf.__version__} sees {len(gpus)} GPU(s): {[g.name for g in gpus]}")
if not gpus and sys.argv[1] != "1":
    sys.exit("no GPU visible to TensorFlow: check the driver and tensorflow[and-cuda]")
EOF

phase "layer and model tests"
if [ $tiny = 1 ]; then
    tests=(tests/test_layers_depthwise.py tests/test_layers_forms.py)
else
    tests=(tests/test_layers_*.py tests/test_zoo_*.py)
fi
"$PYTHON" -m pytest -q -p no:xdist -o addopts="" -m "not slow and not network" \
    --durations=5 "${tests[@]}"

phase "throughput"
budget=$(( tiny ? 600 : 240 ))
"$PYTHON" benchmarks/gpu_throughput.py --budget-s "$budget" $([ $tiny = 1 ] && echo --tiny)

phase "done"
