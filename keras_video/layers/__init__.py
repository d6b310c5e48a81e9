"""Reusable Keras layers of the zoo; each is serializable and exportable."""
from keras_video.layers.conv import Conv3D, SepConv3D, Unit3D
from keras_video.layers.depthwise import DepthwiseConv3D
from keras_video.layers.gating import SelfGating
from keras_video.layers.inception import InceptionBlock3D
from keras_video.layers.pooling import AveragePooling3D, MaxPooling3D
from keras_video.layers.residual import ResidualBlock3D

__all__ = ["AveragePooling3D", "Conv3D", "DepthwiseConv3D", "InceptionBlock3D", "MaxPooling3D",
           "ResidualBlock3D", "SelfGating", "SepConv3D", "Unit3D"]
