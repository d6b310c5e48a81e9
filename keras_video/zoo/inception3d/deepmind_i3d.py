"""DeepMind kinetics-i3d (Sonnet, TF1) checkpoints <-> `keras_video.zoo.I3D` weights.

Checkpoint variables are named `[RGB|Flow/inception_i3d/]BLOCK[/Branch_i/UNIT]/conv_3d/w`,
`.../batch_norm/{beta,moving_mean,moving_variance}` and `Logits/Conv3d_0c_1x1/conv_3d/{w,b}`;
the Keras layers carry the same block names. The Kinetics-600 checkpoint has no prefix, stores
BatchNorm vectors as `[1, 1, 1, 1, C]` and carries Momentum slots, which are skipped.
"""
from keras_video.layers import InceptionBlock3D, Unit3D
from keras_video.weights import tf_checkpoints

# DeepMind named one unit differently from the pattern of all the others.
_RENAMED = {"Mixed_5b/Branch_2/Conv3d_0b_3x3": "Mixed_5b/Branch_2/Conv3d_0a_3x3"}


def _unit_variables(scope, unit):
    if unit.bn is None or unit.bn.scale or unit.conv.use_bias:
        raise ValueError(f"{scope}: DeepMind I3D units are conv without bias + BatchNorm without "
                         "scale; build the model with keras_video.zoo.I3D()")
    scope = _RENAMED.get(scope, scope)
    return {f"{scope}/conv_3d/w": unit.conv.kernel,
            f"{scope}/batch_norm/beta": unit.bn.beta,
            f"{scope}/batch_norm/moving_mean": unit.bn.moving_mean,
            f"{scope}/batch_norm/moving_variance": unit.bn.moving_variance}


def variable_map(model):
    """`{checkpoint name without prefix: Keras variable}` for every weight of an I3D model."""
    names = {}
    for layer in model.layers:
        if isinstance(layer, Unit3D):
            names.update(_unit_variables(layer.name, layer))
        elif isinstance(layer, InceptionBlock3D):
            for branch in layer.branches:
                for sub in branch:
                    if isinstance(sub, Unit3D):  # "Branch_1_Conv3d_0b_3x3" -> "Branch_1/Conv3d..."
                        scope = f"{layer.name}/{sub.name[:8]}/{sub.name[9:]}"
                        names.update(_unit_variables(scope, sub))
                    elif sub.weights:
                        raise ValueError(f"{layer.name}/{sub.name} has no DeepMind counterpart")
        elif layer.name == "Logits_Conv3d_0c_1x1":
            names["Logits/Conv3d_0c_1x1/conv_3d/w"] = layer.kernel
            names["Logits/Conv3d_0c_1x1/conv_3d/b"] = layer.bias
        elif layer.weights and layer.name != "preprocessing":
            raise ValueError(f"layer {layer.name!r} has no DeepMind I3D counterpart")
    return names


_ANCHOR = "Conv3d_1a_7x7/conv_3d/w"


def checkpoint_variables(path):
    """`{name without prefix: shape}` of a checkpoint's model variables (optimizer slots skipped),
    and the prefix that was stripped."""
    return tf_checkpoints.checkpoint_variables(path, _ANCHOR, "DeepMind I3D")


def load_checkpoint(model, path):
    """Copies every variable of the checkpoint at `path` (a prefix such as `.../model.ckpt`) into
    `model`; raises if any model weight or checkpoint tensor is left over or mis-shaped."""
    tf_checkpoints.assign(variable_map(model), path, _ANCHOR, "DeepMind I3D")
    return model
