"""`train(config)`: from a recipe to a trained model, resumable after any kill.

Output folder (`output_dir/name/`): `backup/` (a rerun of the same command resumes where the
killed one stopped; kept at the end, so a rerun of a finished run says so), `last.keras`,
`best/` (the best model as a preset directory: `keras_video.presets.load(".../best")`,
`keras-video predict --model .../best`) and `best.json`, `log.csv` (one row per epoch, across
resumes), `tensorboard/`, `config.yaml` (the resolved recipe, which a rerun is checked
against). Every file is written under a temporary name and renamed (`callbacks`); the backup
is written last at each epoch end.
"""
import inspect
import logging
import math
import os

import keras
import numpy as np
import tensorflow as tf

from keras_video import data, inference, presets, progress, zoo
from keras_video.training import callbacks as run_callbacks
from keras_video.training import multi_worker, runs
from keras_video.training.callbacks import AtomicCheckpoint
from keras_video.training.config import load_config
from keras_video.training.optimizers import build_optimizer
from keras_video.training.strategies import make_strategy

_LOG = logging.getLogger(__name__)

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
    source = config["data"]["source"]
    reader = SOURCES[source]
    known = [name for name in inspect.signature(reader).parameters]
    lists = []
    for split in ("train", "validation"):
        spec = config["data"][split]
        unknown = sorted(set(spec) - set(known))
        if unknown:
            raise ValueError(f"data.{split}: {', '.join(unknown)} is not an argument of data "
                             f"source {source!r} (its arguments: {', '.join(known)})")
        lists.append(reader(**spec) if spec else None)
    return tuple(lists)


def _same_name(name):
    return str(name).replace("_", " ").strip()


def check_classes(config, train, validation):
    """(train, validation, keep_head): the video lists checked against each other and against
    the recipe before the first step, where a mismatch would cost an epoch or, worse, train
    and score against the wrong labels without a word.

    Every training class has videos and every training video a label; the validation split
    has training's classes in training's order; `model.kwargs.classes`, where given, is their
    number. Registered weights with these very classes keep their classifier (`keep_head`):
    in another order, the data is relabelled to the weights' order; other classes (even as
    many) get a new head."""
    names = list(train.class_names)
    counts = np.bincount([label for label in train.labels if label >= 0],
                         minlength=len(names))
    empty = [name for name, count in zip(names, counts) if count == 0]
    if empty:
        raise ValueError(f"data.train: {len(empty)} of its {len(names)} classes have no videos "
                         f"({_shown(empty)}); remove them or give them videos")
    unlabelled = sum(label < 0 for label in train.labels)
    if unlabelled:
        raise ValueError(f"data.train: {unlabelled} of its {len(train)} videos have no label "
                         "(a test split?)")
    if validation is not None and list(validation.class_names) != names:
        ours, theirs = set(names), set(validation.class_names)
        if ours == theirs:
            problem = "the same classes in another order"
        else:
            problem = "; ".join(part for part in (
                f"missing: {_shown(sorted(ours - theirs))}" if ours - theirs else "",
                f"not in data.train: {_shown(sorted(theirs - ours))}" if theirs - ours else "")
                if part)
        raise ValueError(f"data.validation's {len(theirs)} classes are not data.train's "
                         f"{len(ours)} ({problem}): it would score against the wrong labels. "
                         "Give both splits the same class folders, or the same "
                         "class_names")
    asked = config["model"]["kwargs"].get("classes")
    if asked is not None and asked != len(names):
        raise ValueError(f"model.kwargs.classes is {asked!r}, but data.train has {len(names)} "
                         "classes: drop the key (the data sets it) or fix the data")
    weights_names = _classes_of_weights(config)
    if weights_names is None or len(weights_names) != len(names):
        return train, validation, None
    if [_same_name(n) for n in weights_names] == [_same_name(n) for n in names]:
        return train, validation, True
    if sorted(map(_same_name, weights_names)) != sorted(map(_same_name, names)):
        _LOG.warning("the weights %s have %d classes, but not data.train's: their "
                     "classifier is replaced by a new one", config["model"]["weights"],
                     len(names))
        return train, validation, False
    _LOG.info("data.train's classes are the weights' in another order: labels follow the "
              "weights' order, which keeps their classifier")
    return _relabelled(train, weights_names), (
        None if validation is None else _relabelled(validation, weights_names)), True


def _shown(names, count=5):
    return ", ".join(map(repr, names[:count])) + (", ..." if len(names) > count else "")


def _classes_of_weights(config):
    weights = config["model"]["weights"]
    if weights is None or os.path.isfile(os.fspath(weights)):
        return None
    preset = presets.resolve(weights, zoo.get_builder(config["model"]["name"]).registry_name)
    return None if preset.class_names is None else list(preset.class_names)


def _relabelled(source, class_names):
    """`source` with its labels indexing `class_names` (the same names in another order)."""
    position = {_same_name(name): i for i, name in enumerate(class_names)}
    new = [position[_same_name(name)] for name in source.class_names]
    return data.VideoList(source.paths, [new[label] if label >= 0 else -1
                                         for label in source.labels],
                          class_names, source.video_ids)


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


def training_dataset(config, source, batch_size, shard_index=0, num_shards=1, error_log=None):
    d = config["data"]
    cache = d["cache"]
    if cache not in (None, "memory") and num_shards > 1:  # one cache file per input pipeline
        cache = f"{cache}.shard{shard_index}"
    return data.video_dataset(
        _shard(source, shard_index, num_shards), training=True,
        scale_jitter=d["scale_jitter"], flip=d["flip"], mix=d["mix"],
        label_mode="categorical", batch_size=batch_size, repeat=True, drop_remainder=True,
        shuffle=d["shuffle"], cache=cache, error_log=error_log,
        seed=config["seed"] + shard_index, **_clip_arguments(config))


def validation_dataset(config, source, batch_size, shard_index=0, num_shards=1,
                       error_log=None):
    return data.video_dataset(
        _shard(source, shard_index, num_shards), training=False, num_clips=1, num_crops=1,
        label_mode="categorical", batch_size=batch_size, error_log=error_log,
        **_clip_arguments(config))


def build_model(config, num_classes, keep_head=None):
    """The recipe's model for `num_classes`, with its weights. `keep_head` (from
    `check_classes`): whether registered weights keep their classifier; None decides by the
    number of classes alone."""
    m = config["model"]
    frames, size = config["data"]["num_frames"], config["data"]["crop_size"]
    kwargs = {k: v for k, v in m["kwargs"].items() if k != "classes"}  # the data's count
    model = zoo.get(m["name"], weights=None, classes=num_classes,
                    input_shape=(frames, size, size, 3), **kwargs)
    skip_head = "if_classes_differ" if keep_head is None else not keep_head
    presets.apply_weights(model, m["weights"], skip_head=skip_head)
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


def train(recipe=None, overrides=(), *, config=None, callbacks=(), resume=True):
    """Trains the recipe's model; returns (model, keras History).

    `recipe` is a YAML path or mapping, `overrides` `key=value` strings (see
    `keras_video.training.config`). Rerunning the same call after a crash resumes from the
    last backup (epoch end, or every `backup_every_steps` steps). A rerun of a finished run
    trains nothing and returns its model and the History saved in its log.csv; with a higher
    `epochs` it trains on. A rerun whose settings differ from the run's (other than
    `config.RESUMABLE`) raises naming them; `resume=False` deletes what the earlier run wrote
    and starts over.
    """
    config = config or load_config(recipe, overrides)
    folder = run_folder(config)
    os.makedirs(folder, exist_ok=True)
    # First: collective ops (multi_worker) must be configured before TensorFlow starts up.
    strategy = make_strategy(config["strategy"])
    keras.utils.set_random_seed(config["seed"])
    keras.mixed_precision.set_global_policy(config["precision"])
    chief = strategy.extended.should_checkpoint  # False on every worker but the chief
    # Each worker backs up its own (identical) state: one file written by two processes races.
    # Every worker saves: reading the replicated variables is a collective operation that a
    # chief saving alone would wait on forever. Other workers save into a folder of their own.
    backup = os.path.join(folder, "backup" if chief else f"backup_worker{_task_id(strategy)}")
    saves = folder if chief else os.path.join(folder, f"worker{_task_id(strategy)}")
    log_path = os.path.join(folder, runs.LOG)
    done = runs.epochs_to_resume(config, folder, backup, saves) if resume else 0
    if done >= config["epochs"]:
        _LOG.warning("%s is finished: %d epochs done, the recipe asks for %d. Raise epochs "
                     "to train on, or start over with resume=False (keras-video train "
                     "--restart)", folder, done, config["epochs"])
        last = os.path.join(saves, "last.keras")
        if not os.path.exists(last):
            raise FileNotFoundError(f"{last} is missing, though the backup says the run has "
                                    f"done {done} epochs: start over with resume=False "
                                    "(keras-video train --restart)")
        model = inference.keras_model(last)  # a damaged file: "not a readable .keras file"
        return model, runs.saved_history(log_path, done, model)

    train_list, val_list = video_lists(config)
    train_list, val_list, keep_head = check_classes(config, train_list, val_list)
    if not resume:  # only now: a recipe that cannot run leaves the earlier run as it was
        runs.clear(folder, backup, saves, chief)
    if chief:
        runs.write_config(folder, config)
    global_batch = config["batch_size"]
    if global_batch % strategy.num_replicas_in_sync:
        raise ValueError(f"batch_size {global_batch} does not split over "
                         f"{strategy.num_replicas_in_sync} replicas")
    steps = config["steps_per_epoch"] or max(1, len(train_list) // global_batch)
    train_errors, val_errors = data.DecodeErrorLog(), data.DecodeErrorLog()
    train_ds = distributed_dataset(
        strategy, lambda b, i, n: training_dataset(config, train_list, b, i, n, train_errors),
        global_batch)
    val_ds = val_steps = None
    if val_list is not None:
        # Every worker evaluates every validation video: validation is small and its numbers
        # must not depend on the sharding. Its steps are given: with a dataset of unknown
        # length Keras warns that the input "ran out of data" after every validation.
        val_ds = validation_dataset(config, val_list, global_batch, error_log=val_errors)
        val_steps = math.ceil(len(val_list) / global_batch)

    with strategy.scope():
        model = build_model(config, len(train_list.class_names), keep_head)
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
    with strategy.scope():
        done = run_callbacks.restore_backup(model, backup)
    if chief:
        runs.trim_log(log_path, done)

    monitor = "val_accuracy" if val_ds is not None else "accuracy"
    os.makedirs(saves, exist_ok=True)
    # In this order at each epoch end: the counts join the logs first, the backup (what a
    # resumed run starts from) is written last, so an epoch whose files failed is trained again.
    checkpoint = AtomicCheckpoint(os.path.join(saves, "last.keras"), os.path.join(saves, "best"),
                                  monitor=monitor, mode="max",
                                  preset=best_preset_facts(config, train_list.class_names,
                                                           val_ds))
    all_callbacks = [
        keras.callbacks.TerminateOnNaN(),
        run_callbacks.SkippedVideos(train_errors, val_errors if val_ds is not None else None,
                                    len(val_list) if val_list is not None else None),
        checkpoint,
    ]
    if chief:
        all_callbacks += [
            run_callbacks.CSVLogger(log_path, append=True),
            run_callbacks.TensorBoard(os.path.join(folder, "tensorboard")),
        ]
    all_callbacks.append(run_callbacks.Backup(backup, config["backup_every_steps"], checkpoint))
    try:
        history = model.fit(train_ds, epochs=config["epochs"], steps_per_epoch=steps,
                            initial_epoch=done, validation_data=val_ds,
                            validation_steps=val_steps,
                            callbacks=all_callbacks + list(callbacks)
                            + [run_callbacks.ProgbarLogger()],
                            shuffle=False,  # the dataset shuffles its videos itself
                            verbose=progress.fit_verbosity(config["verbose"]))
    except tf.errors.OpError:
        if train_errors.fatal is None:
            raise
        raise data.NoVideoDecodes(f"data.train: {train_errors.fatal}") from None
    if model.stop_training and np.isnan(history.history.get("loss", [0.0])[-1:]).any():
        raise FloatingPointError(
            f"training stopped: the loss became NaN at epoch {history.epoch[-1] + 1}. "
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
    out = out or os.path.join(folder, "evaluation")
    if os.path.isfile(out):  # found before the evaluation's minutes, not after
        raise NotADirectoryError(f"{out} is a file: the report goes into a folder")
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
    json_path, png_path = inference.write_report(result, out)
    return {**result, "report": json_path, "confusion_png": png_path,
            "model": os.fspath(model) if isinstance(model, (str, os.PathLike)) else model.name}
