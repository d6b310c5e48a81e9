"""What quantization costs a trained model: the demo's S3D-G as TFLite fp32 / fp16 /
dynamic-range int8 / int8, each against Keras on the demo's held-out videos.

    python benchmarks/quantization.py [--demo-dir DIR] [--model s3dg|c2d] [--calibration 64]

`--demo-dir` is the work folder a finished `keras-video demo` printed (it keeps its videos and
runs); without it the demo runs first (about 5 minutes on 2 cores). int8 is calibrated on
`--calibration` clips of the demo's training videos, read by `keras_video.data` as training
reads them. Prints, per precision: video accuracy, top-1 agreement with Keras, the largest
probability difference, and the file size. Random-weight models cannot measure agreement (they
give almost every clip the same class by a hair), which is why this uses a trained one.
"""
import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402

from keras_video import data, export  # noqa: E402


def demo_folder(path):
    if path:
        return path
    from keras_video import demo
    print("running the demo first (--demo-dir skips this)", file=sys.stderr)
    return demo.run(workdir=tempfile.mkdtemp(prefix="keras-video-demo-"))["workdir"]


def clips_of(source, frames, size, training, count=None):
    """Clips and labels of `source` as the demo reads them (one clip per video)."""
    dataset = data.video_dataset(source, training=training, num_frames=frames, stride=1,
                                 crop_size=size, scale_jitter=None, flip=False, batch_size=16,
                                 seed=0, shuffle=training)
    clips, labels = [], []
    for batch, label in dataset:
        clips.append(batch.numpy())
        labels.append(label.numpy())
        if count and sum(map(len, clips)) >= count:
            break
    clips, labels = np.concatenate(clips), np.concatenate(labels)
    return (clips[:count], labels[:count]) if count else (clips, labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-dir")
    parser.add_argument("--model", default="s3dg", choices=("s3dg", "c2d"))
    parser.add_argument("--calibration", type=int, default=64)
    args = parser.parse_args()

    from keras_video import presets
    folder = demo_folder(args.demo_dir)
    model = presets.load(os.path.join(folder, "runs", f"demo_{args.model}", "best"))
    frames, size = model.inputs[0].shape[1], model.inputs[0].shape[2]
    test = data.from_directory(os.path.join(folder, "videos", "test"))
    train = data.from_directory(os.path.join(folder, "videos", "train"))
    clips, labels = clips_of(test, frames, size, training=False)
    calibration, _ = clips_of(train, frames, size, training=True, count=args.calibration)
    print(f"{args.model}: {len(clips)} held-out videos, {len(test.class_names)} classes, "
          f"int8 calibrated on {len(calibration)} training clips", file=sys.stderr)

    reference = export.load(model)(clips)
    rows = [("keras", reference, None)]
    workdir = tempfile.mkdtemp(prefix="keras-video-quantization-")
    print("  TFLite fp32, fp16, dynamic_int8, int8", file=sys.stderr, flush=True)
    reports = export.export_tflite_precisions(
        model, {quantize: os.path.join(workdir, f"{args.model}_{quantize}.tflite")
                for quantize in export.QUANTIZATIONS}, representative_data=calibration)
    for quantize, report in reports.items():
        predictor = export.load(report["path"])
        rows.append((f"tflite {quantize or 'fp32'} ({predictor.delegate})", predictor(clips),
                     report["bytes"]))

    print(f"\n{'precision':30s} {'video acc':>9s} {'agree':>6s} {'max |dp|':>8s} {'MB':>6s}")
    for name, probabilities, size_bytes in rows:
        accuracy = float(np.mean(probabilities.argmax(-1) == labels))
        agree = float(np.mean(probabilities.argmax(-1) == reference.argmax(-1)))
        difference = float(np.abs(probabilities - reference).max())
        megabytes = f"{size_bytes / 1e6:6.2f}" if size_bytes else f"{'':6s}"
        print(f"{name:30s} {accuracy:9.3f} {agree:6.3f} {difference:8.4f} {megabytes}")


if __name__ == "__main__":
    main()
