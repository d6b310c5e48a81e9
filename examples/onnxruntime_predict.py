"""Classify a video with an `.onnx` file on onnxruntime alone, decoding with keras_video.data.

    keras-video export s3dg --format onnx --frames 16 --size 224 --out s3dg.onnx
    python examples/onnxruntime_predict.py s3dg.onnx video.mp4 [--provider CUDAExecutionProvider]

The file takes float32 RGB video (batch, frames, height, width, 3) in [0, 255], any batch,
and returns `logits` and `probabilities`; the labels are its `class_names` metadata (JSON).
"""
import argparse
import json

import numpy as np
import onnxruntime

from litert_predict import centre_clip


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("video")
    parser.add_argument("--provider", default="CPUExecutionProvider")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()

    session = onnxruntime.InferenceSession(args.model, providers=[args.provider])
    _, frames, height, width, _ = session.get_inputs()[0].shape
    if not all(isinstance(n, int) for n in (frames, height, width)):
        frames, height, width = 16, 224, 224  # exported with an open clip shape
    clip = centre_clip(args.video, frames, height, width)[None].astype(np.float32)
    probabilities, = session.run(["probabilities"], {"video": clip})
    labels = json.loads(session.get_modelmeta().custom_metadata_map.get("class_names", "null"))
    for i in np.argsort(-probabilities[0])[:args.top]:
        print(f"{labels[i] if labels else i}\t{probabilities[0, i]:.4f}")


if __name__ == "__main__":
    main()
