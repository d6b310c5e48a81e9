"""`convert(path, model_name)`: an upstream checkpoint file into a zoo model (the
`keras-video convert` command), and `inflate(model_3d, source_2d)` with the family's pairs."""
import os

from keras_video.progress import Stages
from keras_video.zoo.inception3d import checkpoints
from keras_video.zoo.inception3d import inflation as inception_inflation
from keras_video.zoo.inception3d.presets import MEMBERS as INCEPTION_MEMBERS
from keras_video.zoo.registry import get, get_builder
from keras_video.zoo.resnet3d import inflation as resnet_inflation
from keras_video.zoo.resnet3d import presets as resnet_presets

PYTORCH_SUFFIXES = (".pth", ".pt", ".pyth", ".pkl", ".bin")


def converter_for(model_name, path):
    """The function that reads the checkpoint at `path` into `model_name`."""
    path = os.fspath(path)
    model_name = get_builder(model_name).registry_name
    if path.endswith(PYTORCH_SUFFIXES):
        if model_name == "s3dg":
            return checkpoints.load_s3d_into_s3dg
        if model_name in INCEPTION_MEMBERS:
            return checkpoints.load_torchvision
        return resnet_presets.load_state_dict
    if os.path.isdir(path) or path.endswith(".index") or os.path.exists(path + ".index"):
        if model_name == "i3d":
            return checkpoints.load_deepmind_i3d
        raise ValueError(f"TF checkpoints convert to i3d only (DeepMind kinetics-i3d), not to "
                         f"{model_name!r}")
    raise ValueError(f"{path}: unknown checkpoint format; expected a PyTorch file "
                     f"({', '.join(PYTORCH_SUFFIXES)}) or a TF checkpoint (prefix, .index file "
                     "or folder)")


def convert(path, model_name, progress=False, **model_kwargs):
    """Builds `model_name` (with `model_kwargs`) and fills it from the checkpoint at `path`;
    `progress`: a line on stderr per stage, with its time."""
    if not os.path.exists(path) and not os.path.exists(os.fspath(path) + ".index"):
        raise FileNotFoundError(f"{path} does not exist")
    converter = converter_for(model_name, path)
    stages = Stages(2, enabled=progress)
    with stages(f"building {model_name}"):
        model = get(model_name, **model_kwargs)
    with stages(f"reading {os.path.basename(os.fspath(path))} into it"):
        return converter(model, path)


def convert_to_file(path, model_name, to, progress=False, **model_kwargs):
    """`convert`, then the weights saved as `to` (a `.weights.h5` file); returns a summary."""
    if not os.fspath(to).endswith(".weights.h5"):
        raise ValueError(f"the output must end in .weights.h5 (Keras' weights format), got "
                         f"{to!r}")
    model = convert(path, model_name, progress=progress, **model_kwargs)
    os.makedirs(os.path.dirname(os.path.abspath(to)), exist_ok=True)
    model.save_weights(to)
    return {"model": model_name, "source": os.fspath(path), "weights": os.fspath(to),
            "params": model.count_params()}


def inflate(model_3d, source_2d, method="replicate"):
    """Initialises a zoo model from a 2D ImageNet network: TF-slim's Inception-v1
    (`keras_video.zoo.InceptionV1`) into the Inception family, a `keras.applications`
    ResNet50/101/152 into bottleneck ResNet3Ds such as the CSNs. Returns an
    `InflationReport` (what took 2D weights, what stayed as initialised)."""
    is_resnet = any(layer.name == "conv1_conv" for layer in source_2d.layers)
    family = resnet_inflation if is_resnet else inception_inflation
    return family.inflate(model_3d, source_2d, method)

