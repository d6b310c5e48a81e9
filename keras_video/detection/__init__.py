"""Spatio-temporal action detection (JHMDB-21, UCF101-24, AVA): the detector, its data, ground
truth, tube linking and the frame-mAP / video-mAP the papers report.

- `model`: `action_detector` builds an `ActionDetector` on any zoo backbone (temporal mean,
  RoIAlign, classifier with box refinement, anchor-free actor proposals or external ones);
  `layers` holds its RoIAlign, proposals and losses.
- `pipeline`: clips around key frames with their boxes padded to a fixed count, box-aware
  augmentation, `tf.data` datasets; `training`: fit and evaluation glue; `synthetic`: a
  detection dataset of its own (orbit scenes); `export`: SavedModel, ONNX, TFLite.
- `ground_truth`: the community `JHMDB-GT.pkl` / `UCF101v2-GT.pkl` files (read without running
  pickled code), validated into a `GroundTruth`; frame folders and video files; AVA's CSVs.
- `metrics`: `frame_ap`, `video_ap`, `detection_report`, `ava_frame_ap`, and the IoUs.
- `tubes`: `link_tubes`, per-frame detections linked into `Tube`s.
"""
from keras_video.detection.ground_truth import (AvaBoxes, GroundTruth, UnsafeGroundTruthError,
                                                as_ground_truth, frame_paths, read_ava_csv,
                                                read_ava_exclusions, read_ava_label_map,
                                                read_ground_truth, video_path,
                                                write_ground_truth)
from keras_video.detection.layers import CentreProposals, RoIAlign, TemporalPooling
from keras_video.detection.metrics import (average_precision, ava_frame_ap, box_iou,
                                           detection_report, frame_ap, iou_thresholds, tube_iou,
                                           video_ap)
from keras_video.detection.model import ActionDetector, action_detector
from keras_video.detection.tubes import Tube, link_tubes

__all__ = [
    "ActionDetector", "AvaBoxes", "CentreProposals", "GroundTruth", "RoIAlign",
    "TemporalPooling", "Tube", "UnsafeGroundTruthError", "action_detector", "as_ground_truth",
    "ava_frame_ap", "average_precision", "box_iou", "detection_report", "frame_ap",
    "frame_paths", "iou_thresholds", "link_tubes", "read_ava_csv", "read_ava_exclusions",
    "read_ava_label_map", "read_ground_truth", "tube_iou", "video_ap", "video_path",
    "write_ground_truth",
]
