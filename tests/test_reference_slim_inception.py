"""TF-slim Inception-v1 checkpoints, as keras-video loads and inflates them, compute slim's
network (`inception_reference`: slim's inception_v1.py written again with tf.nn ops reading
every tensor by its checkpoint name; the checkpoint holds random values under slim's names)."""
import keras
import numpy as np
import pytest

from keras_video import zoo
from keras_video.zoo import InceptionV1, inflate
from keras_video.zoo.inception3d import slim_inception

import inception_reference as reference
from conftest import TINY

CLASSES = 1001  # slim's ImageNet classifier: background and the 1000 classes
SIZE = 224      # our 2D model's head pools a 7 x 7 map, as slim's
# A repeated frame is the 2D network's function at the I3D outputs that see no temporal zero
# padding: with 112 frames, the centre of Mixed_5c's 14 time steps and of the head's 13.
FRAMES = 112


def _tiny(w):
    return max(int(w * TINY["width_multiplier"]), TINY["min_width"])


@pytest.fixture(scope="module")
def slim_checkpoint(tmp_path_factory):
    """A tiny-width slim checkpoint of random values (BatchNorm statistics of a training-mode
    pass over 4 images) and the Keras InceptionV1 loaded from it."""
    rng = np.random.default_rng(1)
    tensors = reference.RandomTensors(rng)
    reference.forward(reference.SLIM, tensors, rng.uniform(-1, 1, (4, SIZE, SIZE, 3)), CLASSES,
                      _tiny)
    path = tmp_path_factory.mktemp("slim") / "inception_v1.ckpt"
    reference.save_checkpoint(path, {"InceptionV1/" + n: v for n, v in tensors.values.items()})
    model = InceptionV1(input_shape=(SIZE, SIZE, 3), **TINY)
    slim_inception.load_checkpoint(model, str(path))
    return path, model


def _reference(path, images):
    return reference.forward(reference.SLIM, reference.CheckpointTensors(path, "InceptionV1/"),
                             images / 127.5 - 1, CLASSES, _tiny)


def test_loaded_inception_v1_computes_slims_network(slim_checkpoint, rng):
    """Logits to 1e-4 of their range (Mixed_5c features, which say where a failure starts, to
    1e-3) on an image in [0, 255]: our preprocessing, slim's x / 127.5 - 1 in the reference."""
    path, model = slim_checkpoint
    image = rng.uniform(0, 255, (1, SIZE, SIZE, 3)).astype("float32")
    features, logits = _reference(path, image)
    got_features, got_logits = keras.Model(model.input, [model.get_layer("Mixed_5c").output,
                                                         model.get_layer("logits").output])(image)
    np.testing.assert_allclose(got_features, features, atol=1e-3 * np.ptp(features))
    np.testing.assert_allclose(got_logits, logits, atol=1e-4 * np.ptp(logits))


def test_inflated_i3d_computes_slims_network_on_a_repeated_frame(slim_checkpoint, rng):
    """I3D inflated from the loaded InceptionV1, on one frame repeated: at the centre time step,
    Mixed_5c and the classifier's output are the slim reference's for that frame (whose head
    window is clipped to the 2 x 2 map of a 64 x 64 frame, as our I3D clips its 2 x 7 x 7)."""
    path, model_2d = slim_checkpoint
    i3d = zoo.I3D(input_shape=(FRAMES, 64, 64, 3), classes=CLASSES, classifier_activation=None,
                  **TINY)
    report = inflate(i3d, model_2d)
    assert report.not_inflated == []
    frame = rng.uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    features, logits = _reference(path, frame)
    got_features, got_logits = keras.Model(i3d.input, [
        i3d.get_layer("Mixed_5c").output, i3d.get_layer("Logits_Conv3d_0c_1x1").output])(
        np.repeat(frame[:, None], FRAMES, axis=1))
    centre_features = got_features[:, got_features.shape[1] // 2]
    centre_logits = got_logits[:, got_logits.shape[1] // 2, 0, 0]
    np.testing.assert_allclose(centre_features, features, atol=1e-3 * np.ptp(features))
    np.testing.assert_allclose(centre_logits, logits, atol=1e-4 * np.ptp(logits))
