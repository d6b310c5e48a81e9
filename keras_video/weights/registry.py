"""The registry of pretrained weights: one `WeightsEntry` per (model, weights name).

An entry says where the upstream file is and how to check it, which converter turns it into our
model, what the network expects as input, and what it was measured to do. Figures are the
publishers' own (`source`); `metrics_level` says whether they are per clip or per video.
"""
import dataclasses
import os

_I3D_COMMIT = "https://raw.githubusercontent.com/deepmind/kinetics-i3d/" \
    "0667e889a5904b4dc122e0ded4c332f49f8df42c/data/checkpoints"
_TORCHVISION = "https://download.pytorch.org/models"
_VMZ = "https://github.com/bjuncek/VMZ/releases/download/test_models"
_MMACTION_VMZ = "https://download.openmmlab.com/mmaction/recognition/csn/vmz"
# The builders' classifier layers (I3D/S3D conv head, ResNet3D dense head): what a model with
# other classes leaves out of a registered entry's weights.
CLASSIFIER_LAYERS = ("Logits_Conv3d_0c_1x1", "logits")
# RGB mean / std in [0, 1] units (what the builders' preprocessing layer applies).
KINETICS_MEAN_STD = ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989))
MINUS_ONE_TO_ONE = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # x / 127.5 - 1


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One upstream file. `sha256` is the full digest where it is published; otherwise
    `sha256_prefix` is the digest prefix the publisher put in the file name (torchvision's and
    OpenMMLab's convention); `filename` keeps same-named files of one model apart."""
    url: str
    filename: str
    sha256: str = None
    sha256_prefix: str = None


@dataclasses.dataclass(frozen=True)
class WeightsEntry:
    model: str
    name: str
    files: tuple            # SourceFile, ...; the first is the checkpoint the converter reads
    file_format: str        # "tf_checkpoint" | "pytorch"
    converter: str          # a name in keras_video.weights.converters.CONVERTERS
    classes: int
    class_names: str        # labels/<class_names>.txt
    mean_std: tuple         # RGB mean and std in [0, 1] units (the builder's preprocessing)
    fps: float
    clip_frames: int        # training clip length
    crop_size: int
    metrics: dict           # {"top1": .., "top5": ..}, in percent
    metrics_level: str      # "clip" | "video", with the protocol in `evaluation`
    evaluation: str
    gmacs: float            # as published, for `macs_input`
    macs_input: str
    source: str
    license: str
    notes: str = ""
    model_kwargs: dict = dataclasses.field(default_factory=dict)

    def class_names_list(self):
        path = os.path.join(os.path.dirname(__file__), "labels", self.class_names + ".txt")
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]


def _digest_in_name(file):
    """The sha256 prefix torchvision and OpenMMLab put after the last '-' of a file name."""
    return file.rsplit("-", 1)[1].split(".")[0][:8]


def _deepmind(name, folder, index_sha256, classes, metrics, evaluation, source, notes):
    files = tuple(SourceFile(f"{_I3D_COMMIT}/{folder}/model.ckpt.{suffix}",
                             f"i3d_{folder}.ckpt.{suffix}", sha256=sha)
                  for suffix, sha in (("data-00000-of-00001", None), ("index", index_sha256)))
    return WeightsEntry(
        model="i3d", name=name, files=files, file_format="tf_checkpoint",
        converter="deepmind_i3d", classes=classes, class_names=f"kinetics{classes}",
        mean_std=MINUS_ONE_TO_ONE, fps=25, clip_frames=64, crop_size=224, metrics=metrics,
        metrics_level="video", evaluation=evaluation, gmacs=None, macs_input="",
        source=source, license="Apache-2.0", notes=notes)


def _torchvision(model, file, sha256, top1, top5, gmacs, level, evaluation, clip, crop):
    return WeightsEntry(
        model=model, name="kinetics400",
        files=(SourceFile(f"{_TORCHVISION}/{file}", file, sha256=sha256,
                          sha256_prefix=_digest_in_name(file)),),
        file_format="pytorch", converter="torch_state_dict", classes=400,
        class_names="kinetics400", mean_std=KINETICS_MEAN_STD, fps=15, clip_frames=clip,
        crop_size=crop, metrics={"top1": top1, "top5": top5}, metrics_level=level,
        evaluation=evaluation, gmacs=gmacs, macs_input="16x112x112" if crop == 112 else
        "16x224x224", source=f"torchvision.models.video ({model.upper()} KINETICS400_V1)",
        license="BSD-3-Clause (torchvision)")


def _csn(kind, name, url, top, evaluation, source, notes):
    file = url.rsplit("/", 1)[1]
    prefix = _digest_in_name(file) if "openmmlab" in url else None
    return WeightsEntry(
        model=f"{kind}_csn_152", name=name,
        files=(SourceFile(url, file, sha256_prefix=prefix),), file_format="pytorch",
        converter="torch_state_dict", classes=400, class_names="kinetics400",
        mean_std=KINETICS_MEAN_STD, fps=15, clip_frames=32, crop_size=224,
        metrics={"top1": top[0], "top5": top[1]}, metrics_level="video", evaluation=evaluation,
        gmacs={"ir": 96.7, "ip": 108.8}[kind], macs_input="32x224x224", source=source,
        license="Apache-2.0", notes=notes)


_RESNET_EVAL = "Kinetics-400 val, 5 clips of 16 frames at 15 fps per video, 112 centre crop"
_VMZ_EVAL = "Kinetics-400 val, clip predictions averaged per video (VMZ model zoo)"
_VMZ_SOURCE = "facebookresearch/VMZ: pre-trained on IG-65M, fine-tuned on Kinetics-400"
_VMZ_NOTES = "VMZ publishes no digest for this file."
_MMACTION_EVAL = "Kinetics-400 val, 10 clips x 3 crops of 256 per video (MMAction2)"
_MMACTION_SOURCE = "VMZ's Kinetics-400 model trained from scratch, as ported by MMAction2"
_MMACTION_NOTES = "OpenMMLab's file name carries the first 8 hex digits of its sha256."
_S3D = _torchvision("s3d", "s3d-d76dad2f.pth", None, 68.368, 88.050, 17.979, "clip",
                    "Kinetics-400 val, one 128-frame clip at 15 fps per video", 64, 224)
ENTRIES = [
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
    _S3D,
    _torchvision("r3d_18", "r3d_18-b3b3357e.pth",
                 "b3b3357ead25631ec9c57362ff2128a92d0427e01e2cd184951a44380c3f2e9d",
                 63.2, 83.479, 40.697, "video", _RESNET_EVAL, 16, 112),
    _torchvision("mc3_18", "mc3_18-a90a0ba3.pth",
                 "a90a0ba35ca1242d15b77511ff28bfb29cc596988b5ea36081042f8e2f54212b",
                 63.96, 84.13, 43.343, "video", _RESNET_EVAL, 16, 112),
    _torchvision("r2plus1d_18", "r2plus1d_18-91a641e6.pth",
                 "91a641e6c2ab531d1aca5f4321b4d802ec5c3babc15df855cdb6e39c6a1107c8",
                 67.463, 86.175, 40.519, "video", _RESNET_EVAL, 16, 112),
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
    dataclasses.replace(
        _S3D, model="s3dg", converter="s3dg_from_s3d",
        source="torchvision S3D KINETICS400_V1 with identity-preserving gates (no "
               "Kinetics-trained S3D-G checkpoint is public)",
        notes="S3D's weights, with every gate at sigmoid(0) = 0.5 and the BatchNorm feeding it "
              "doubled, so the network computes exactly S3D's function: the metrics are S3D's "
              "until the gates are fine-tuned (zoo/s3dg_kinetics400_finetune.yaml)."),
]

REGISTRY = {}
for _entry in ENTRIES:
    REGISTRY.setdefault(_entry.model, {})[_entry.name] = _entry

# weights="imagenet": inflated on the fly from a 2D ImageNet network (`inflation`).
SLIM_INCEPTION_V1 = SourceFile(
    "http://download.tensorflow.org/models/inception_v1_2016_08_28.tar.gz",
    "inception_v1_2016_08_28.tar.gz")  # top-1 69.8 / top-5 89.6 (TF-slim README); no digest
INCEPTION_FAMILY = ("i3d", "s3d", "s3dg", "fast_s3d", "bottom_heavy_i3d", "top_heavy_i3d",
                    "bottom_heavy_s3d", "top_heavy_s3d", "c2d")
RESNET_FOR_CSN = {f"{kind}_csn_{depth}": f"ResNet{depth}" for kind in ("ir", "ip")
                  for depth in (50, 101, 152)}


def available(model_name):
    """Names of the pretrained weights registered for a model."""
    imagenet = ["imagenet"] if model_name in INCEPTION_FAMILY + tuple(RESNET_FOR_CSN) else []
    return sorted(list(REGISTRY.get(model_name, {})) + imagenet)


def get(model_name, weights_name):
    """The entry for `model_name` / `weights_name`; unknown names raise with the known ones."""
    try:
        return REGISTRY[model_name][weights_name]
    except KeyError:
        names = available(model_name)
        models = sorted(REGISTRY)
        raise ValueError(
            f"Unknown weights {weights_name!r} for model {model_name!r}: it is neither an "
            f"existing file nor a registered name. Registered weights for {model_name!r}: "
            f"{', '.join(names) if names else 'none'} (models with registered weights: "
            f"{', '.join(models)}). Pass weights=None for random initialisation or the path of "
            f"a .weights.h5 / .keras file.") from None
