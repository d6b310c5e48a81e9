"""Registered presets of the ResNet3D family: torchvision's R3D-18, MC3-18 and R(2+1)D-18,
VMZ's and MMAction2's ip-/ir-CSN-152, and ImageNet inflation for the CSNs of ResNet depths.
Figures are the publishers' own (`source`); `metrics_level` says whether per clip or video."""
import functools

from keras_video import presets
from keras_video.presets import ClipSpec, InflatedWeights, Preset, SourceFile, UpstreamWeights
from keras_video.weights import torch_files, torch_state_dicts
from keras_video.zoo import labels
from keras_video.zoo.resnet3d import inflation
from keras_video.zoo.resnet3d.model import TORCHVISION

_TORCHVISION = "https://download.pytorch.org/models"
_VMZ = "https://github.com/bjuncek/VMZ/releases/download/test_models"
_MMACTION_VMZ = "https://download.openmmlab.com/mmaction/recognition/csn/vmz"
_MEAN, _STD = TORCHVISION["mean_std"]  # VMZ's and MMAction2's ports use the same statistics


def load_state_dict(model, path):
    """A torchvision / VMZ / MMAction2 / pytorchvideo `.pth` state dict into the model."""
    return torch_state_dicts.load_state_dict(model, torch_files.read_state_dict(path))


def _digest_in_name(file):
    """The sha256 prefix torchvision and OpenMMLab put after the last '-' of a file name."""
    return file.rsplit("-", 1)[1].split(".")[0][:8]


def _kinetics(builder, name, file, clip, metrics, **facts):
    return Preset(
        name=f"{builder}.{name}", model=presets.model_config(builder, classes=400),
        weights=UpstreamWeights((file,), load_state_dict, "pytorch"),
        class_names=labels.read("kinetics400"), clip=ClipSpec(mean=_MEAN, std=_STD, **clip),
        metrics=metrics, **facts)


def _torchvision(builder, file, sha256, top1, top5, gmacs):
    return _kinetics(
        builder, "kinetics400",
        SourceFile(f"{_TORCHVISION}/{file}", file, sha256=sha256,
                   sha256_prefix=_digest_in_name(file)),
        dict(frames=16, fps=15, short_side=128, crop=112), {"top1": top1, "top5": top5},
        metrics_level="video",
        evaluation="Kinetics-400 val, 5 clips of 16 frames at 15 fps per video, 112 centre crop",
        gmacs=gmacs, macs_input="16x112x112",
        source=f"torchvision.models.video ({builder.upper()} KINETICS400_V1)",
        license="BSD-3-Clause (torchvision)")


def _csn(kind, name, url, top, evaluation, source, notes):
    file = url.rsplit("/", 1)[1]
    prefix = _digest_in_name(file) if "openmmlab" in url else None
    return _kinetics(
        f"{kind}_csn_152", name, SourceFile(url, file, sha256_prefix=prefix),
        dict(frames=32, frame_stride=2, short_side=256, crop=224),  # MMAction2's 32x2x1
        {"top1": top[0], "top5": top[1]}, metrics_level="video", evaluation=evaluation,
        gmacs={"ir": 96.7, "ip": 108.8}[kind], macs_input="32x224x224", source=source,
        license="Apache-2.0", notes=notes)


_VMZ_EVAL = "Kinetics-400 val, clip predictions averaged per video (VMZ model zoo)"
_VMZ_SOURCE = "facebookresearch/VMZ: pre-trained on IG-65M, fine-tuned on Kinetics-400"
_VMZ_NOTES = "VMZ publishes no digest for this file."
_MMACTION_EVAL = "Kinetics-400 val, 10 clips x 3 crops of 256 per video (MMAction2)"
_MMACTION_SOURCE = "VMZ's Kinetics-400 model trained from scratch, as ported by MMAction2"
_MMACTION_NOTES = "OpenMMLab's file name carries the first 8 hex digits of its sha256."

for _preset in [
    _torchvision("r3d_18", "r3d_18-b3b3357e.pth",
                 "b3b3357ead25631ec9c57362ff2128a92d0427e01e2cd184951a44380c3f2e9d",
                 63.2, 83.479, 40.697),
    _torchvision("mc3_18", "mc3_18-a90a0ba3.pth",
                 "a90a0ba35ca1242d15b77511ff28bfb29cc596988b5ea36081042f8e2f54212b",
                 63.96, 84.13, 43.343),
    _torchvision("r2plus1d_18", "r2plus1d_18-91a641e6.pth",
                 "91a641e6c2ab531d1aca5f4321b4d802ec5c3babc15df855cdb6e39c6a1107c8",
                 67.463, 86.175, 40.519),
    _csn("ir", "kinetics400", f"{_VMZ}/irCSN_152_ft_kinetics_from_ig65m_f126851907.pth",
         (82.6, 95.3), _VMZ_EVAL, _VMZ_SOURCE, _VMZ_NOTES),
    _csn("ip", "kinetics400", f"{_VMZ}/ipCSN_152_ft_kinetics_from_ig65m_f133090949.pth",
         (82.5, 95.3), _VMZ_EVAL, _VMZ_SOURCE, _VMZ_NOTES),
    _csn("ir", "kinetics400_from_scratch", f"{_MMACTION_VMZ}/vmz_ircsn_from_scratch_r152_"
         "32x2x1_180e_kinetics400_rgb_20210617-5c933ae1.pth", (76.53, 92.28), _MMACTION_EVAL,
         _MMACTION_SOURCE, _MMACTION_NOTES),
    _csn("ip", "kinetics400_from_scratch", f"{_MMACTION_VMZ}/vmz_ipcsn_from_scratch_r152_"
         "32x2x1_180e_kinetics400_rgb_20210617-d565828d.pth", (77.80, 93.10), _MMACTION_EVAL,
         _MMACTION_SOURCE, _MMACTION_NOTES),
] + [Preset(name=f"{member}.imagenet", model=presets.model_config(member, include_top=False),
            weights=InflatedWeights(functools.partial(inflation.inflate_imagenet, member)),
            clip=ClipSpec(mean=_MEAN, std=_STD),
            source=f"keras.applications {depth} (ImageNet), inflated to 3D",
            license="")
     for member, depth in inflation.RESNET_FOR_CSN.items()]:
    presets.register(_preset)
