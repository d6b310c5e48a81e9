"""Classify a video with a `.tflite` file on the LiteRT runtime alone (what a phone or an edge
box runs), decoding with keras_video.data.

    keras-video export s3dg --format tflite --frames 16 --size 224 --out s3dg.tflite
    python examples/litert_predict.py s3dg.tflite video.mp4 [--threads 4]

The file takes one clip (1, frames, height, width, 3) of RGB in [0, 255] (float32, or uint8
for full-integer int8 files) and returns `logits` and `probabilities`; the labels and clip
spec are JSON in the flatbuffer's `keras_video` metadata entry.
"""
import argparse
import json

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from keras_video.data import UniformClipSampler, VideoReader, transforms


def centre_clip(path, frames, height, width):
    """The video's middle `frames` frames (the last one repeated in a shorter video), short
    side resized while decoding, centre-cropped: the evaluation's one-clip sampling."""
    with VideoReader(path, short_side=min(height, width)) as reader:
        indices = UniformClipSampler(frames, short_video="pad")(reader.num_frames, reader.fps)[0]
        return transforms.center_crop(reader.get(indices), (height, width)).numpy()


def keras_video_metadata(path):
    """The JSON the exporter put in the file's `keras_video` metadata entry, or {}."""
    with open(path, "rb") as f:
        model = schema.Model.GetRootAs(f.read(), 0)
    for i in range(model.MetadataLength()):
        if model.Metadata(i).Name() == b"keras_video":
            return json.loads(bytes(model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy()))
    return {}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("video")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()

    interpreter = Interpreter(model_path=args.model, num_threads=args.threads)
    runner = interpreter.get_signature_runner()
    video_in = runner.get_input_details()["video"]
    _, frames, height, width, _ = video_in["shape"]
    clip = centre_clip(args.video, frames, height, width)[None].astype(np.float32)
    scale, zero = video_in["quantization"]
    if scale:  # full-integer file: quantize the pixels as the converter calibrated them
        clip = np.clip(np.round(clip / scale + zero), 0, 255)
    outputs = runner(video=clip.astype(video_in["dtype"]))
    probabilities = outputs["probabilities"].astype(np.float32)[0]
    scale, zero = runner.get_output_details()["probabilities"]["quantization"]
    if scale:
        probabilities = (probabilities - zero) * scale

    labels = keras_video_metadata(args.model).get("class_names")
    for i in np.argsort(-probabilities)[:args.top]:
        print(f"{labels[i] if labels else i}\t{probabilities[i]:.4f}")


if __name__ == "__main__":
    main()
