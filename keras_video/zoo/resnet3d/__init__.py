"""The ResNet3D family (R3D-18, MC3-18, R(2+1)D-18, ip-/ir-CSN): the builders (`model`), their
registered presets (`presets`) and ImageNet inflation of the CSNs (`inflation`)."""
from keras_video.zoo.resnet3d.model import (  # noqa: F401
    CLASSIFIER_LAYER, CSN_DEPTHS, IPCSN26, IPCSN50, IPCSN101, IPCSN152, IRCSN26, IRCSN50,
    IRCSN101, IRCSN152, MC3_18, TORCHVISION, R2Plus1D18, R3D18, resnet3d_backbone)
from keras_video.zoo.resnet3d import presets  # noqa: F401,E402  (registers them)
