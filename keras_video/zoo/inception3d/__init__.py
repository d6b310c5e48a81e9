"""The Inception-v1 video family (I3D, S3D, S3D-G, bottom-/top-heavy, Fast-S3D, C2D): the
builders (`model`), their registered presets (`presets`), DeepMind / torchvision checkpoints
and the S3D-G gate surgery (`checkpoints`, `deepmind_i3d`), and ImageNet inflation from
TF-slim's Inception-v1 (`inflation`, `inception_v1`, `slim_inception`)."""
from keras_video.zoo.inception3d.inception_v1 import InceptionV1  # noqa: F401
from keras_video.zoo.inception3d.model import (  # noqa: F401
    C2D, CLASSIFIER_LAYER, DEFAULT_SWITCHES, FEATURE_LAYER, FEATURES, GATING_BLOCKS, I3D,
    I3D_STYLE, LAYOUT, MIXED, POOLS, S3D, S3D_STYLE, S3DG, TEMPORAL_BLOCKS, BottomHeavyI3D,
    BottomHeavyS3D, FastS3D, TopHeavyI3D, TopHeavyS3D, inception3d_backbone, inception3d_head)
from keras_video.zoo.inception3d import presets  # noqa: F401,E402  (registers them)
