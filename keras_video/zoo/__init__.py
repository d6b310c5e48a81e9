"""Model builders (keras.applications conventions), one folder per family with its presets,
checkpoint maps and inflation pairs.

`keras_video.zoo.S3DG(weights="kinetics400")`, `keras_video.zoo.get("s3dg", **kw)`,
`keras_video.zoo.list_models()`; every builder returns a `VideoModel`.
"""
from keras_video.zoo.base import VideoModel  # noqa: F401
from keras_video.zoo.conversion import convert, convert_to_file, inflate  # noqa: F401
from keras_video.zoo.inception3d import (C2D, I3D, S3D, S3DG, BottomHeavyI3D,  # noqa: F401
                                         BottomHeavyS3D, FastS3D, InceptionV1, TopHeavyI3D,
                                         TopHeavyS3D)
from keras_video.zoo.registry import get, get_builder, is_registered, list_models  # noqa: F401
from keras_video.zoo.resnet3d import (IPCSN26, IPCSN50, IPCSN101, IPCSN152,  # noqa: F401
                                      IRCSN26, IRCSN50, IRCSN101, IRCSN152, MC3_18,
                                      R2Plus1D18, R3D18)
