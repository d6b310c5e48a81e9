"""What a classifier returns, as every runtime serves it: logits and probabilities."""
import keras


def classifier_outputs(model):
    """A model from the video to `{"logits", "probabilities"}` (float32), sharing `model`'s
    layers. The logits are the input of the zoo's "predictions" layer; a model built with
    `classifier_activation=None` gets a softmax for its probabilities."""
    try:
        head = model.get_layer("predictions")
    except ValueError:
        raise ValueError(f"{model.name} has no 'predictions' layer: this takes a classifier "
                         "built by keras_video.zoo with include_top=True") from None
    logits = head.input
    activation = keras.activations.serialize(head.activation)
    activation = activation if isinstance(activation, str) else activation.get("config", "")
    if activation in ("softmax", "sigmoid"):
        probabilities = head.output
    else:
        probabilities = keras.layers.Activation("softmax", dtype="float32")(logits)
    logits = keras.layers.Activation("linear", dtype="float32")(logits)
    return keras.Model(model.inputs, {"logits": logits, "probabilities": probabilities},
                       name=f"{model.name}_outputs")


def takes_pixels(model):
    """True when the model normalises [0, 255] RGB itself (built with include_preprocessing)."""
    return any(layer.name == "preprocessing" for layer in model.layers)
