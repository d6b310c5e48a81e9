"""`train(config)`: from a recipe to a trained model, resumable after any kill.

Output folder (`output_dir/name/`): `backup/` (BackupAndRestore: a rerun of the same command
resumes where the killed one stopped), `last.keras` (written atomically), `best/` (the best
model as a preset directory: `keras_video.presets.load(".../best")`, `keras-video predict
--model .../best`), `log.csv` (appended across resumes), `tensorboard/`, `config.yaml` (the
resolved recipe).
"""
import os

import keras
import numpy as np
import tensorflow as tf
import yaml

from keras_video import data, inference, presets, zoo
from keras_video.training import multi_worker
from keras_video.training.callbacks import AtomicCheckpoint
from keras_video.training.config import load_config
from keras_video.training.optimizers import build_optimizer
from keras_video.training.strategies import make_strategy

# data.source -> the reader of its video list; data.train / data.validation are its keywords.
SOURCES = {
    "directory": data.from_directory,
    "kinetics_csv": data.from_kinetics_csv,
    "ucf101": data.from_ucf101_split,
    "hmdb51": data.from_hmdb51_split,
    "something_something": data.from_something_something,
}


def video_lists(config):
    """(train, validation or None) `VideoList`s of the recipe's data source."""
    reader = SOURCES[config["data"]["source"]]
    train = reader(**config["data"]["train"])
    spec = config["data"]["validation"]
    return train, (reader(**spec) if spec else None)


def _clip_arguments(config):
    d = config["data"]
    return dict(num_frames=d["num_frames"], stride=d["stride"], fps=d["fps"],
                crop_size=d["crop_size"],
                num_parallel_calls=d["num_parallel_calls"] or tf.data.AUTOTUNE)


def distributed_dataset(strategy, make, global_batch):
    """`make(batch_size, shard_index, num_shards)` per input pipeline: each worker shards the
    video list before decoding (no video is decoded to be thrown away) and batches at the
    per-replica size."""
    def per_pipeline(context):
        return make(context.get_per_replica_batch_size(global_batch), context.input_pipeline_id,
                    context.num_input_pipelines)

    return strategy.distribute_datasets_from_function(per_pipeline)


def _shard(source, index, count):
    return source.subset(range(index, len(source), count)) if count > 1 else source


def training_dataset(config, source, batch_size, shard_index=0, num_shards=1):
    d = config["data"]
    cache = d["cache"]
    if cache not in (None, "memory") and num_shards > 1:  # one cache file per input pipeline
        cache = f"{cache}.shard{shard_index}"
    return data.video_dataset(
        _shard(source, shard_index, num_shards), training=True,
        scale_jitter=d["scale_jitter"], flip=d["flip"], mix=d["mix"],
        label_mode="categorical", batch_size=batch_size, repeat=True, drop_remainder=True,
        shuffle=d["shuffle"], cache=cache,
        seed=config["seed"] + shard_index, **_clip_arguments(config))


def validation_dataset(config, source, batch_size, shard_index=0, num_shards=1):
    return data.video_dataset(
        _shard(source, shard_index, num_shards), training=False, num_clips=1, num_crops=1,
        label_mode="categorical", batch_size=batch_size, **_clip_arguments(config))


def build_model(config, num_classes):
    m = config["model"]
    frames, size = config["data"]["num_frames"], config["data"]["crop_size"]
    model = zoo.get(m["name"], weights=None, classes=num_classes,
                    input_shape=(frames, size, size, 3), **m["kwargs"])
    # Registered weights keep their head for the same classes; other classes get a new head.
    presets.apply_weights(model, m["weights"], skip_head="if_classes_differ")
    if config["freeze_bn"]:
        freeze_batch_norm(model)
    return model


def freeze_batch_norm(model):
    """BatchNorm layers keep their statistics and scales (inference mode): fine-tuning with
    the small batches video allows would otherwise wreck the pretrained statistics."""
    frozen = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            frozen += 1
    return frozen


def best_preset_facts(config, class_names, validation):
    """What the run's best model says about itself as a preset (`presets.save` keywords)."""
    d = config["data"]
    name = config["name"] or config["model"]["name"]
    split = "the validation split" if validation is not None else \
        "the training clips (the recipe has no validation split)"
    return dict(
        name=name, class_names=list(class_names), frames=d["num_frames"],
        frame_stride=d["stride"], fps=d["fps"], crop=d["crop_size"], short_side=d["crop_size"],
        evaluation=f"accuracy on {split}, one centre clip and crop per video",
        source=f"keras-video train, recipe {name}" + (
            f", initialised from {config['model']['weights']}" if config["model"]["weights"]
            else ""))


def run_folder(config):
    return os.path.join(config["output_dir"], config["name"] or config["model"]["name"])


def train(recipe=None, overrides=(), *, config=None, callbacks=()):
    """Trains the recipe's model; returns (model, keras History).

    `recipe` is a YAML path or mapping, `overrides` `key=value` strings (see
    `keras_video.training.config`). Rerunning the same call after a crash resumes from the
    last backup (epoch end, or every `backup_every_steps` steps).
    """
    config = config or load_config(recipe, overrides)
    folder = run_folder(config)
    os.makedirs(folder, exist_ok=True)
    # First: collective ops (multi_worker) must be configured before TensorFlow starts up.
    strategy = make_strategy(config["strategy"])
    keras.utils.set_random_seed(config["seed"])
    keras.mixed_precision.set_global_policy(config["precision"])
    chief = strategy.extended.should_checkpoint  # False on every worker but the chief
    if chief:
        with open(os.path.join(folder, "config.yaml"), "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)

    train_list, val_list = video_lists(config)
    global_batch = config["batch_size"]
    if global_batch % strategy.num_replicas_in_sync:
        raise ValueError(f"batch_size {global_batch} does not split over "
                         f"{strategy.num_replicas_in_sync} replicas")
    steps = config["steps_per_epoch"] or max(1, len(train_list) // global_batch)
    train_ds = distributed_dataset(
        strategy, lambda b, i, n: training_dataset(config, train_list, b, i, n), global_batch)
    val_ds = None
    if val_list is not None:
        # Every worker evaluates every validation video: validation is small and its numbers
        # must not depend on the sharding.
        val_ds = validation_dataset(config, val_list, global_batch)

    with strategy.scope():
        model = build_model(config, len(train_list.class_names))
        optimizer = build_optimizer(config, steps)
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=config["label_smoothing"]),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"),
                     keras.metrics.TopKCategoricalAccuracy(5, name="top5")],
            jit_compile=config["jit_compile"])
    build_before_fit(model, train_ds.element_spec)
    if multi_worker.in_multi_worker_mode(strategy):
        multi_worker.patch_scalar_reduction()

    monitor = "val_accuracy" if val_ds is not None else "accuracy"
    backup_freq = config["backup_every_steps"] or "epoch"
    # Each worker backs up its own (identical) state: one file written by two processes races.
    backup = os.path.join(folder, "backup" if chief else f"backup_worker{_task_id(strategy)}")
    all_callbacks = [
        # double_checkpoint: a kill while the backup is written leaves the one before it,
        # which the rerun loads when the newest is unreadable.
        keras.callbacks.BackupAndRestore(backup, save_freq=backup_freq, double_checkpoint=True),
        keras.callbacks.TerminateOnNaN(),
    ]
    # Every worker saves: reading the replicated variables is a collective operation that a
    # chief saving alone would wait on forever. Other workers save into a folder of their own.
    saves = folder if chief else os.path.join(folder, f"worker{_task_id(strategy)}")
    os.makedirs(saves, exist_ok=True)
    all_callbacks += [
        AtomicCheckpoint(os.path.join(saves, "last.keras"), os.path.join(saves, "best"),
                         monitor=monitor, mode="max",
                         preset=best_preset_facts(config, train_list.class_names, val_ds)),
    ]
    if chief:
        all_callbacks += [
            keras.callbacks.CSVLogger(os.path.join(folder, "log.csv"), append=True),
            keras.callbacks.TensorBoard(os.path.join(folder, "tensorboard")),
        ]
    history = model.fit(train_ds, epochs=config["epochs"], steps_per_epoch=steps,
                        validation_data=val_ds, callbacks=all_callbacks + list(callbacks),
                        shuffle=False,  # the dataset shuffles its videos itself
                        verbose=config["verbose"])
    if model.stop_training and np.isnan(history.history.get("loss", [0.0])[-1:]).any():
        raise FloatingPointError(
            f"training stopped: the loss became NaN at epoch {len(history.history['loss'])}. "
            "Lower optimizer.learning_rate, set optimizer.clipnorm, or use precision=float32; "
            f"the last good weights are in {folder}/last.keras")
    return model, history


def build_before_fit(model, element_spec):
    """Creates every variable `fit` needs (layers, metrics, optimizer slots) from the dataset's
    element spec, before `fit`.

    Left to `fit`, they are created inside the first trace of the train step, and TensorFlow
    then traces the step a second time without them (docs/benchmarks.md, "Training steps").
    Under MultiWorkerMirroredStrategy `fit` would also average a first batch across workers
    to learn the shapes, which raises (see `multi_worker`); with everything built that step
    has nothing left to do and is skipped.
    """
    def symbolic(spec):  # a PerReplicaSpec holds one spec per local replica, all alike
        spec = getattr(spec, "_value_specs", (spec,))[0]
        return tf.TensorSpec([None] + spec.shape[1:], spec.dtype)

    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=tf.nest.map_structure(symbolic, element_spec))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def _task_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return getattr(resolver, "task_id", 0) or 0


def evaluate_run(config, model=None, clips=None, crops=None, out=None, verbose=True):
    """Evaluates a trained recipe on its validation split with clips x crops views per video
    (default: the recipe's data.eval_clips x data.eval_crops) and writes the report (JSON and
    confusion matrix figure, default: the run folder's `evaluation/`). `model`: a preset
    directory, `.keras` file or anything `inference.keras_model` takes; default: the run's
    best model."""
    folder = run_folder(config)
    if model is None:
        model = os.path.join(folder, "best")
        if not os.path.exists(model) and os.path.exists(model + ".keras"):
            model += ".keras"  # a run of an earlier version
        if not os.path.exists(model):
            raise FileNotFoundError(f"no model at {model}: train the recipe first or pass the "
                                    "model to evaluate")
    _, validation = video_lists(config)
    if validation is None:
        raise ValueError("the recipe has no data.validation split to evaluate on")
    d = config["data"]
    clips, crops = clips or d["eval_clips"], crops or d["eval_crops"]
    if crops not in (1, 3):
        raise ValueError(f"crops must be 1 or 3, got {crops}")
    result = inference.evaluate(inference.keras_model(model), validation,
                                num_frames=d["num_frames"], stride=d["stride"], fps=d["fps"],
                                crop_size=d["crop_size"], num_clips=clips, num_crops=crops,
                                batch_size=config["batch_size"], verbose=verbose)
    json_path, png_path = inference.write_report(result, out or os.path.join(folder,
                                                                             "evaluation"))
    return {**result, "report": json_path, "confusion_png": png_path,
            "model": os.fspath(model) if isinstance(model, (str, os.PathLike)) else model.name}
