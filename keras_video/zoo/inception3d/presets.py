"""Registered presets of the Inception family: DeepMind's I3D (Kinetics-400 and -600),
torchvision's S3D, S3D-G from S3D's weights, and ImageNet inflation for every member.
Figures are the publishers' own (`source`); `metrics_level` says whether per clip or video."""
from keras_video import presets
from keras_video.presets import ClipSpec, InflatedWeights, Preset, SourceFile, UpstreamWeights
from keras_video.zoo import labels
from keras_video.zoo.inception3d import checkpoints, inflation
from keras_video.zoo.inception3d.model import I3D_STYLE, S3D_STYLE

_I3D_COMMIT = "https://raw.githubusercontent.com/deepmind/kinetics-i3d/" \
    "0667e889a5904b4dc122e0ded4c332f49f8df42c/data/checkpoints"
_TORCHVISION = "https://download.pytorch.org/models"
# The members whose weights="imagenet" inflates TF-slim Inception-v1.
MEMBERS = ("i3d", "s3d", "s3dg", "fast_s3d", "bottom_heavy_i3d", "top_heavy_i3d",
           "bottom_heavy_s3d", "top_heavy_s3d", "c2d")


def _clip(style, **values):
    mean, std = style["mean_std"]
    return ClipSpec(mean=mean, std=std, **values)


def _deepmind(name, folder, index_sha256, classes, metrics, evaluation, source, notes):
    files = tuple(SourceFile(f"{_I3D_COMMIT}/{folder}/model.ckpt.{suffix}",
                             f"i3d_{folder}.ckpt.{suffix}", sha256=sha)
                  for suffix, sha in (("data-00000-of-00001", None), ("index", index_sha256)))
    return Preset(
        name=f"i3d.{name}", model=presets.model_config("i3d", classes=classes),
        weights=UpstreamWeights(files, checkpoints.load_deepmind_i3d, "tf_checkpoint"),
        class_names=labels.read(f"kinetics{classes}"),
        clip=_clip(I3D_STYLE, frames=64, fps=25, short_side=256, crop=224), metrics=metrics,
        metrics_level="video", evaluation=evaluation, source=source, license="Apache-2.0",
        notes=notes)


_S3D_FILE = SourceFile(f"{_TORCHVISION}/s3d-d76dad2f.pth", "s3d-d76dad2f.pth",
                       sha256_prefix="d76dad2f")
_S3D = dict(
    class_names=labels.read("kinetics400"),
    clip=_clip(S3D_STYLE, frames=64, fps=15, short_side=256, crop=224),
    metrics={"top1": 68.368, "top5": 88.050}, metrics_level="clip",
    evaluation="Kinetics-400 val, one 128-frame clip at 15 fps per video", gmacs=17.979,
    macs_input="16x224x224", license="BSD-3-Clause (torchvision)")

for _preset in [
    _deepmind("kinetics400", "rgb_imagenet",
              "f4bfd6f4af485f276c68333d3eca3697b691bb647f0167a03fe021147ca7f8eb", 400,
              {"top1": 71.1, "top5": 89.3},
              "Kinetics-400 test set, whole videos, RGB stream alone (kinetics-i3d README)",
              "deepmind/kinetics-i3d rgb_imagenet (ImageNet-inflated Inception-v1, then "
              "Kinetics-400)",
              "The .data file has no published digest: the .index (sha256-pinned) holds a "
              "CRC32C of every tensor, which TensorFlow checks as it reads them."),
    _deepmind("kinetics600", "rgb_scratch_kin600",
              "366815af85b76e46222db13761f087584b3dc9c56abf67b822949846302e432a", 600, {},
              "not published by DeepMind for this checkpoint",
              "deepmind/kinetics-i3d rgb_scratch_kin600 (Kinetics-600 from scratch)",
              "Its BatchNorm vectors are stored [1,1,1,1,C] and its Momentum slots are "
              "skipped."),
    Preset(name="s3d.kinetics400", model=presets.model_config("s3d", classes=400),
           weights=UpstreamWeights((_S3D_FILE,), checkpoints.load_torchvision, "pytorch"),
           source="torchvision.models.video (S3D KINETICS400_V1)", **_S3D),
    Preset(name="s3dg.kinetics400", model=presets.model_config("s3dg", classes=400),
           weights=UpstreamWeights((_S3D_FILE,), checkpoints.load_s3d_into_s3dg, "pytorch"),
           source="torchvision S3D KINETICS400_V1 with identity-preserving gates (no "
                  "Kinetics-trained S3D-G checkpoint is public)",
           notes="S3D's weights, with every gate at sigmoid(0) = 0.5 and the BatchNorm feeding "
                 "it doubled, so the network computes exactly S3D's function: the metrics are "
                 "S3D's until the gates are fine-tuned (recipe s3dg_kinetics400_finetune).",
           **_S3D),
] + [Preset(name=f"{member}.imagenet", model=presets.model_config(member, include_top=False),
            weights=InflatedWeights(inflation.inflate_imagenet, inflation.SLIM_INCEPTION_V1),
            clip=_clip(I3D_STYLE if "i3d" in member or member == "c2d" else S3D_STYLE),
            source="TF-slim inception_v1_2016_08_28 (ImageNet), inflated to 3D",
            license="Apache-2.0") for member in MEMBERS]:
    presets.register(_preset)
