"""Spatio-temporal action detection (JHMDB, UCF101-24, AVA-style): `action_detector` builds a
detector on any zoo backbone; `pipeline` samples clips around key frames with their boxes;
`synthetic` writes a detection dataset of its own; `training` fits and evaluates."""
from keras_video.detection.layers import CentreProposals, RoIAlign, TemporalPooling  # noqa: F401
from keras_video.detection.model import (PRESETS, ActionDetector, action_detector,  # noqa: F401
                                         from_preset)
