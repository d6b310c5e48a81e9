"""From video files (or TFRecord shards) to batched, augmented clips in a `tf.data.Dataset`.

Modules, in the order data flows through them:
- `decoding`: `read_video` / `VideoReader` (PyAV; seek to the keyframe before a clip, resize
  during decode, fps resampling by timestamps, `VideoDecodeError` for every bad file).
- `sampling`: which frames make a clip (random, uniform, dense; short-video policies).
- `annotations`: dataset label formats (class folders, Kinetics CSV, UCF-101 / HMDB-51 splits,
  Something-Something v2 JSON) read into one `VideoList`.
- `transforms`: in-graph augmentation (scale jitter, crops, flip, MixUp / CutMix).
- `datasets`: `video_dataset` and `video_dataset_from_directory`.
- `tfrecords` (and `beam`): shards of JPEG frames, their writer and reader.
- `multiview`: N clips x M crops per video, each view beside its video's index.
- `synthetic`: a motion-only dataset, as tensors or real video files.
- `encoding`: `write_video`, used by the synthetic dataset, the tests and the examples.
"""
from keras_video.data import annotations, sampling, synthetic, transforms  # noqa: F401
from keras_video.data.annotations import (VideoList, from_directory, from_hmdb51_split,
                                          from_kinetics_csv, from_something_something,
                                          from_ucf101_split)
from keras_video.data.datasets import video_dataset, video_dataset_from_directory
from keras_video.data.decoding import Video, VideoDecodeError, VideoReader, read_video
from keras_video.data.encoding import write_video
from keras_video.data.errors import DECODE_ERRORS, DecodeErrorLog
from keras_video.data.multiview import multiview_dataset
from keras_video.data.sampling import (ClipSampler, DenseClipSampler, RandomClipSampler,
                                       UniformClipSampler)
from keras_video.data.synthetic import (MOTION_CLASSES, ORBIT_CLASSES, make_clip, make_clips,
                                        synthetic_dataset, write_synthetic_videos)
from keras_video.data.tfrecords import tfrecord_dataset, write_tfrecords

__all__ = [
    "ClipSampler", "DECODE_ERRORS", "DecodeErrorLog", "DenseClipSampler", "MOTION_CLASSES",
    "ORBIT_CLASSES", "RandomClipSampler", "UniformClipSampler", "Video", "VideoDecodeError",
    "VideoList", "VideoReader", "from_directory", "from_hmdb51_split", "from_kinetics_csv",
    "from_something_something", "from_ucf101_split", "make_clip", "make_clips",
    "multiview_dataset", "read_video", "synthetic_dataset", "tfrecord_dataset",
    "video_dataset", "video_dataset_from_directory", "write_synthetic_videos",
    "write_tfrecords", "write_video",
]
