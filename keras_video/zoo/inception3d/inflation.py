"""ImageNet inflation of the Inception family: which TF-slim Inception-v1 layer feeds which 3D
unit, and `weights="imagenet"` (Inception-v1 downloaded once, inflated into the 3D network, S3D-G's
gates set to pass features through). The algorithm is `keras_video.weights.inflation`."""
import os
import tarfile

from keras_video.layers import InceptionBlock3D, SepConv3D, Unit3D
from keras_video.weights import fetching, inflation
from keras_video.zoo.inception3d import checkpoints, slim_inception
from keras_video.zoo.inception3d.inception_v1 import InceptionV1

SLIM_INCEPTION_V1 = fetching.SourceFile(
    "http://download.tensorflow.org/models/inception_v1_2016_08_28.tar.gz",
    "inception_v1_2016_08_28.tar.gz")  # top-1 69.8 / top-5 89.6 (TF-slim README); no digest


def inflation_pairs(model_3d):
    """`{2D layer name: 3D unit}` for the Inception family."""
    pairs = {}
    for layer in model_3d.layers:
        if isinstance(layer, (Unit3D, SepConv3D)):
            pairs[layer.name.replace("Conv3d", "Conv2d")] = layer
        elif isinstance(layer, InceptionBlock3D):
            for branch in layer.branches:
                for sub in branch:
                    if isinstance(sub, (Unit3D, SepConv3D)):
                        name = f"{layer.name}_{sub.name.replace('Conv3d', 'Conv2d')}"
                        if name == "Mixed_5b_Branch_2_Conv2d_0b_3x3":  # slim's one odd name
                            name = "Mixed_5b_Branch_2_Conv2d_0a_3x3"
                        pairs[name] = sub
        elif layer.name == "Logits_Conv3d_0c_1x1":
            pairs["Logits_Conv2d_0c_1x1"] = layer
    return pairs


def inflate(model_3d, source_2d, method="replicate"):
    """Inflates `source_2d` (an `InceptionV1`) into `model_3d`, gates included."""
    report = inflation.inflate(model_3d, source_2d, inflation_pairs(model_3d), method,
                               inflation.SLIM_INPUT)
    gates = checkpoints.gate_layers(model_3d)
    if gates:
        checkpoints.identity_gates(model_3d)
        done = {v.path for gate in gates for v in gate.weights}
        report.not_inflated = [path for path in report.not_inflated if path not in done]
    return report


def imagenet_source(progress=print):
    """TF-slim's ImageNet Inception-v1 (downloaded once, or from the mirror)."""
    archive = fetching.fetch(SLIM_INCEPTION_V1)
    folder = os.path.join(fetching.keras_home(), "keras_video", "inception_v1_2016_08_28")
    checkpoint = os.path.join(folder, "inception_v1.ckpt")

    def extracted():  # the 2016 archive holds a V1 checkpoint (one file); V2 has an .index
        return os.path.exists(checkpoint) or os.path.exists(checkpoint + ".index")

    if not extracted():
        if progress:
            progress(f"Extracting {archive}")
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        if not extracted():
            raise ValueError(f"{archive} holds no inception_v1.ckpt")
    image_model = InceptionV1(include_top=False, input_shape=(None, None, 3))
    return slim_inception.load_checkpoint(image_model, checkpoint)


def inflate_imagenet(model_3d):
    """`weights="imagenet"`: the 3D network initialised from ImageNet Inception-v1."""
    return inflate(model_3d, imagenet_source())
