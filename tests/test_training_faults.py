"""Faults in training and what each gets (docs/reliability.md has the table): unreadable
videos, class lists that disagree, reruns of finished or changed runs, a disk that fills up,
damaged files, wrong-type recipe values, and the warnings a clean run must not print.

A disk that fills up is a small tmpfs where this process may mount one (root), otherwise a
fault-injecting stand-in for Python's `open`, which cannot fail h5py's or TensorFlow's own
writes (the tmpfs cases cover those)."""
import builtins
import csv
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
import warnings

import keras
import numpy as np
import pytest

from keras_video import cli, data, presets
from keras_video.training import callbacks as run_callbacks
from keras_video.training import config as config_lib
from keras_video.training import load_config, runs, train, trainer

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
# The fastest zoo network to trace (about half of C2D's time): most of a fit here is tracing.
TINY_MODEL = {"name": "r3d_18", "kwargs": {"width_multiplier": 0.125, "min_width": 4}}
CLASSES = ("move_down", "move_left", "move_right", "move_up")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """4 motion classes x 2 videos of 8 frames at 32x32, as real mp4 / avi files."""
    root = tmp_path_factory.mktemp("fault_videos")
    data.write_synthetic_videos(root, 2, num_frames=8, size=32, progress=False, classes=CLASSES)
    return root


def recipe(videos, output_dir, **changes):
    base = {"model": TINY_MODEL,
            "data": {"train": {"root": str(videos)}, "validation": {"root": str(videos)},
                     "num_frames": 8, "stride": 1, "crop_size": 32, "scale_jitter": None,
                     "flip": False},
            "batch_size": 4, "epochs": 2, "steps_per_epoch": 1,
            "optimizer": {"name": "sgd", "learning_rate": 0.01},
            "output_dir": str(output_dir), "name": "run", "verbose": 0}
    config = load_config(base)
    config_lib._merge(config, changes)
    return config


def unreadable_videos(root, classes=CLASSES, per_class=2):
    for name in classes:
        os.makedirs(root / name, exist_ok=True)
        for i in range(per_class):
            (root / name / f"{name}_{i}.mp4").write_bytes(os.urandom(2000))
    return root


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder)
                  for d, _, names in os.walk(folder) for f in names)


def snapshot(folder):
    """Every file under `folder` with its bytes: what a refused rerun must leave alone."""
    return {path: open(os.path.join(folder, path), "rb").read() for path in files_under(folder)}


def no_partial_files(folder):
    return [p for p in files_under(folder) if "incomplete" in p or ".partial" in p]


# ------------------------------------------------------------------- 2: nothing decodes
HANG_SCRIPT = textwrap.dedent("""
    import sys
    from keras_video import data
    log = data.DecodeErrorLog()
    dataset = data.video_dataset(data.from_directory(sys.argv[1]), training=True, repeat=True,
                                 num_frames=4, crop_size=16, scale_jitter=None, batch_size=2,
                                 error_log=log)
    try:
        next(iter(dataset))
    except Exception as error:
        print("RAISED", type(log.fatal).__name__, log.fatal)
""")


def test_a_repeating_dataset_of_unreadable_videos_raises_instead_of_spinning(tmp_path):
    """Its filter on readable videos used to draw failures forever (100% CPU, no output): in
    a process of its own, so that the old behaviour fails the test instead of hanging it."""
    root = unreadable_videos(tmp_path / "bad")
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        result = subprocess.run([sys.executable, "-c", HANG_SCRIPT, str(root)], env=env,
                                capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("a dataset of unreadable videos searched for a readable one for 180 s")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"RAISED NoVideoDecodes none of the 8 videos under {root} could be decoded: " \
           "all 8 failed (e.g. " in result.stdout


def test_a_few_readable_videos_keep_a_repeating_dataset_going(videos, tmp_path):
    """One good video among bad ones resets the streak: with the list shuffled every pass,
    more failures than there are videos come in a row, and the dataset must go on."""
    root = unreadable_videos(tmp_path / "mixed", per_class=3)
    good = root / "move_up" / "good.mp4"
    shutil.copy(videos / "move_up" / "move_up_0000.mp4", good)
    log = data.DecodeErrorLog()
    dataset = data.video_dataset(data.from_directory(root), training=True, repeat=True,
                                 num_frames=4, crop_size=16, scale_jitter=None, batch_size=2,
                                 error_log=log, seed=0, num_parallel_calls=1)
    labels = [label.numpy() for _, label in dataset.take(8)]
    assert np.concatenate(labels).tolist() == [3] * 16  # every clip from the one good video
    assert log.count > 2 * len(log) and log.fatal is None  # bad files met again and again


def test_only_failures_since_the_last_decoded_video_stop_a_dataset():
    """A video that fails on some draws (a damaged stretch that random clips sometimes hit)
    must not add up, over a long run, to "every video failed": a decode resets the streak."""
    log = data.DecodeErrorLog()
    streak = data.errors.FailureStreak(["/v/a.mp4", "/v/b.mp4"], log)
    streak.failed("/v/a.mp4", "bad packet")
    streak.decoded()  # b.mp4, say
    streak.failed("/v/b.mp4", "bad packet")  # a failed before the decode: no streak of 2
    assert log.fatal is None
    with pytest.raises(data.NoVideoDecodes, match=r"^none of the 2 videos under /v could be "
                                                  r"decoded: all 2 failed \(e.g. /v/a.mp4: "
                                                  r"bad packet\)"):
        streak.failed("/v/a.mp4", "bad packet")
    assert isinstance(log.fatal, data.NoVideoDecodes)


@pytest.mark.slow
def test_train_stops_naming_the_folder_when_no_training_video_decodes(tmp_path):
    root = unreadable_videos(tmp_path / "bad")
    config = recipe(root, tmp_path / "runs", data={"validation": {}})
    with pytest.raises(data.NoVideoDecodes, match=rf"^data.train: none of the 8 videos under "
                                                  rf"{re.escape(str(root))} could be decoded: "
                                                  "all 8 failed"):
        train(config=config)


def test_skips_are_counted_per_epoch_and_an_epoch_without_validation_videos_raises():
    """Without the check Keras reports validation metrics of no video (zeros), and the best
    model is picked by them."""
    good, bad = data.DecodeErrorLog(), data.DecodeErrorLog()
    counter = run_callbacks.SkippedVideos(good, bad, val_videos=2)
    counter.on_epoch_begin(0)
    good.record("a.mp4", "broken")
    logs = {"loss": 1.0}
    counter.on_epoch_end(0, logs)
    assert logs == {"loss": 1.0, "skipped_videos": 1, "val_skipped_videos": 0}
    counter.on_epoch_begin(1)
    bad.record("v1.mp4", "broken")
    bad.record("v2.mp4", "broken")
    with pytest.raises(ValueError, match="none of the 2 validation videos could be decoded in "
                                         "epoch 2 .e.g. v1.mp4: broken"):
        counter.on_epoch_end(1, {"loss": 1.0})


# --------------------------------------------------------------------- 3: class lists
def test_class_lists_are_checked_before_the_first_step(videos, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "build_model", lambda *a, **k: pytest.fail("model built"))
    empty = tmp_path / "empty_class"
    shutil.copytree(videos, empty)
    os.makedirs(empty / "rotate")
    other = tmp_path / "other_classes"
    shutil.copytree(videos, other)
    os.rename(other / "move_up", other / "move_upward")
    cases = [
        ({"data": {"train": {"root": str(empty)}, "validation": {}}},
         r"data.train: 1 of its 5 classes have no videos \('rotate'\)"),
        ({"data": {"validation": {"root": str(other)}}},
         r"data.validation's 4 classes are not data.train's 4 \(missing: 'move_up'; not in "
         r"data.train: 'move_upward'\): it would score against the wrong labels"),
        ({"data": {"validation": {"root": str(videos),
                                  "class_names": list(reversed(CLASSES))}}},
         "the same classes in another order"),
        ({"model": {"kwargs": {"classes": 5}}},
         "model.kwargs.classes is 5, but data.train has 4 classes"),
    ]
    for changes, message in cases:
        with pytest.raises(ValueError, match=message):
            train(config=recipe(videos, tmp_path / "runs", **changes))
    assert not os.path.exists(tmp_path / "runs" / "run" / "config.yaml")


def test_weights_keep_their_classifier_only_for_their_own_classes(videos, tmp_path):
    """Registered or saved weights with as many classes as the data used to keep their
    classifier whatever the class names: a silent wrong answer for other classes."""
    config = recipe(videos, tmp_path / "runs")
    weights_order = ["move_up", "move_right", "move_left", "move_down"]
    model = trainer.build_model(config, 4)
    presets.save(model, tmp_path / "preset", class_names=weights_order)
    train_list, val_list = trainer.video_lists(config)
    config["model"]["weights"] = str(tmp_path / "preset")

    same, val_same, keep = trainer.check_classes(config, train_list, val_list)
    assert keep is True and same.class_names == val_same.class_names == tuple(weights_order)
    for source in (same, val_same):  # every video keeps its class, under the weights' index
        assert [weights_order[l] for l in source.labels] == \
            [os.path.basename(os.path.dirname(p)) for p in source.paths]
    def head(network):
        return network.get_layer(network.classifier_layer).get_weights()[0]

    np.testing.assert_array_equal(head(trainer.build_model(config, 4, keep)), head(model))

    presets.save(model, tmp_path / "other", class_names=["a", "b", "c", "d"], overwrite=True)
    config["model"]["weights"] = str(tmp_path / "other")
    assert trainer.check_classes(config, train_list, val_list)[2] is False
    assert not np.allclose(head(trainer.build_model(config, 4, False)), head(model))


def test_unknown_data_arguments_name_the_split(videos, tmp_path):
    with pytest.raises(ValueError, match=r"data.validation: roots is not an argument of data "
                                         r"source 'directory' \(its arguments: root, "):
        trainer.video_lists(recipe(videos, tmp_path, data={"validation": {"roots": "/x"}}))


# ------------------------------------------------------------------------- 5: reruns
@pytest.fixture(scope="module")
def finished_run(videos, tmp_path_factory):
    """A run of 2 epochs with validation, finished: (config, its History)."""
    config = recipe(videos, tmp_path_factory.mktemp("finished"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, history = train(config=config)
    return config, history, [str(w.message) for w in caught]


def copy_of(finished_run, where, **changes):
    """The finished run copied to `where`/run, and its config for there with `changes`."""
    config, history, _ = finished_run
    shutil.copytree(trainer.run_folder(config), os.path.join(where, "run"))
    again = json.loads(json.dumps(config))
    config_lib._merge(again, {"output_dir": os.fspath(where), **changes})
    return again, history


def test_a_clean_run_warns_nothing_and_logs_each_epoch_once(finished_run):
    config, history, caught = finished_run
    assert not [w for w in caught if "ran out of data" in w or "structure of" in w], caught
    folder = trainer.run_folder(config)
    assert sorted(os.listdir(folder)) == ["backup", "best", "best.json", "config.yaml",
                                          "last.keras", "log.csv", "tensorboard"]
    rows = list(csv.DictReader(open(os.path.join(folder, "log.csv"))))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert [r["skipped_videos"] for r in rows] == ["0", "0"] == \
        [r["val_skipped_videos"] for r in rows]
    assert history.history["skipped_videos"] == [0, 0]
    assert run_callbacks.backup_epochs(os.path.join(folder, "backup")) == 2


def test_a_finished_run_says_so_and_returns_its_saved_history(finished_run, tmp_path,
                                                              monkeypatch, caplog):
    config, history = copy_of(finished_run, tmp_path)
    before = snapshot(tmp_path / "run")
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("trained again"))
    model, saved = train(config=config)
    assert f"{tmp_path / 'run'} is finished: 2 epochs done, the recipe asks for 2" in caplog.text
    assert saved.epoch == history.epoch == [0, 1]
    assert set(saved.history) == set(history.history)
    for key, values in history.history.items():
        np.testing.assert_allclose(saved.history[key], values, rtol=1e-6, err_msg=key)
    assert snapshot(tmp_path / "run") == before  # nothing written
    assert model.count_params() == keras.models.load_model(tmp_path / "run" / "last.keras") \
        .count_params()


@pytest.mark.parametrize("changes, named", [
    ({"data": {"validation": {}}}, "data.validation ({'root': "),  # was KeyError: 'accuracy'
    ({"batch_size": 2}, "batch_size (4 -> 2)"),
    ({"optimizer": {"learning_rate": 0.1}, "epochs": 3},
     "optimizer.learning_rate (0.01 -> 0.1)"),
    ({"model": {"kwargs": {"dropout_rate": 0.5}}}, "model.kwargs ("),
], ids=["validation_removed", "batch_size", "learning_rate", "model_kwargs"])
def test_a_changed_setting_is_named_and_nothing_is_written(finished_run, tmp_path, changes,
                                                           named):
    config, _ = copy_of(finished_run, tmp_path, **changes)
    before = snapshot(tmp_path / "run")
    with pytest.raises(ValueError, match="holds a run started with other settings") as raised:
        train(config=config)
    assert named in str(raised.value) and "resume=False" in str(raised.value)
    assert snapshot(tmp_path / "run") == before


def test_results_without_a_backup_are_not_overwritten(finished_run, tmp_path):
    config, _ = copy_of(finished_run, tmp_path)
    shutil.rmtree(tmp_path / "run" / "backup")  # a run of an earlier version, say
    with pytest.raises(FileExistsError, match=r"holds an earlier run \(last.keras, best, "
                                              r"best.json, log.csv\) but no backup"):
        train(config=config)


def test_resume_false_starts_over_once_the_new_run_can_start(finished_run, tmp_path,
                                                            monkeypatch):
    config, _ = copy_of(finished_run, tmp_path, batch_size=2)
    os.makedirs(tmp_path / "empty" / "move_up")
    unusable = json.loads(json.dumps(config))
    unusable["data"]["train"]["root"] = str(tmp_path / "empty")
    before = snapshot(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="no video files"):
        train(config=unusable, resume=False)
    assert snapshot(tmp_path / "run") == before  # a recipe that cannot run deletes nothing

    class Started(Exception):
        pass

    def fit(model, *args, initial_epoch=0, **kwargs):
        raise Started(initial_epoch)

    monkeypatch.setattr(keras.Model, "fit", fit)
    with pytest.raises(Started) as started:
        train(config=config, resume=False)
    assert started.value.args == (0,)  # from scratch, with the changed batch size
    assert sorted(os.listdir(tmp_path / "run")) == ["config.yaml"]
    assert config_lib.read_yaml(tmp_path / "run" / "config.yaml", "")["batch_size"] == 2


def test_the_command_line_says_finished_or_names_the_changed_key(finished_run, tmp_path,
                                                                 capsys, caplog):
    config, _ = copy_of(finished_run, tmp_path)
    path = tmp_path / "recipe.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    status = cli.main(["train", "--config", str(path), "--json"])
    out, err = capsys.readouterr()
    assert status == 0 and "is finished: 2 epochs done" in caplog.text, err
    assert json.loads(out)["epochs_run"] == 2
    status = cli.main(["train", "--config", str(path), "--batch_size", "2"])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and "batch_size (4 -> 2)" in err, err


def test_a_best_score_of_another_metric_is_refused(tmp_path):
    (tmp_path / "best.json").write_text(json.dumps({"val_accuracy": 0.5, "epoch": 2}))
    with pytest.raises(ValueError, match="best.json holds the best val_accuracy, not accuracy"):
        run_callbacks.AtomicCheckpoint(tmp_path / "last.keras", tmp_path / "best",
                                       monitor="accuracy")


# ------------------------------------------------------------------ 6: a full disk
class InjectedDisk:
    """A stand-in for a small filesystem at `root`: files opened with Python's `open` for
    writing under it share `free` bytes; the write that passes them writes what fits, then
    raises ENOSPC. h5py and TensorFlow write through their own C code and are not limited."""

    def __init__(self, root, monkeypatch):
        self.root, self.free = os.path.abspath(root), None
        real_open = builtins.open

        def limited_open(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            if isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+") and \
                    os.path.abspath(file).startswith(self.root):
                return _LimitedFile(handle, self)
            return handle

        monkeypatch.setattr(builtins, "open", limited_open)

    def leave(self, nbytes):
        self.free = nbytes

    def release(self):
        self.free = None


class _LimitedFile:
    def __init__(self, handle, disk):
        self._handle, self._disk = handle, disk

    def write(self, chunk):
        free = self._disk.free
        if free is not None and len(chunk) > free:
            self._handle.write(chunk[:free])
            self._handle.flush()
            self._disk.free = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if free is not None:
            self._disk.free -= len(chunk)
        return self._handle.write(chunk)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __iter__(self):
        return iter(self._handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


class Tmpfs:
    """A real tmpfs mounted at `root`; `leave` fills it with a file up to `nbytes` free."""

    def __init__(self, root, size="16m"):
        self.root = os.fspath(root)
        os.makedirs(self.root, exist_ok=True)
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                 self.root], capture_output=True, text=True)
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}): the injected "
                        "disk runs instead")
        self.filler = os.path.join(self.root, f".filler-{uuid.uuid4().hex}")

    def leave(self, nbytes):
        stat = os.statvfs(self.root)
        fill = stat.f_bavail * stat.f_frsize - nbytes
        with open(self.filler, "ab") as f:
            f.write(b"\0" * max(fill, 0))

    def release(self):
        if os.path.exists(self.filler):
            os.remove(self.filler)

    def unmount(self):  # lazily: a writer the test left open must not keep it mounted
        subprocess.run(["umount", "-l", self.root], check=False)


def _disk(kind, root, monkeypatch, size):
    if kind == "injected":
        os.makedirs(root)
        yield InjectedDisk(root, monkeypatch)
        return
    mounted = Tmpfs(root, size)
    try:
        yield mounted
    finally:
        mounted.unmount()


@pytest.fixture(params=["tmpfs", "injected"])
def disk(request, tmp_path, monkeypatch):
    """A small disk for single files."""
    yield from _disk(request.param, tmp_path / "disk", monkeypatch, "16m")


@pytest.fixture(params=["tmpfs", "injected"])
def run_disk(request, tmp_path, monkeypatch):
    """A disk that holds a copy of `finished_run` (about 17 MB: four copies of the weights)
    with room for a few more epochs."""
    yield from _disk(request.param, tmp_path / "disk", monkeypatch, "64m")


def small_model():
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256),
                              keras.layers.Dense(4, name="predictions")])
    model.compile("adam", "mse")
    model.optimizer.build(model.trainable_variables)  # its slots are saved with the weights
    return model


def epoch_writers(folder, model):
    """name -> (write(epoch), what its error must name, check(last good epoch): that the
    files of the last good epoch are whole)."""
    folder = os.fspath(folder)

    def with_model(callback):
        callback.set_model(model)
        return callback

    checkpoint = with_model(run_callbacks.AtomicCheckpoint(
        os.path.join(folder, "last.keras"), os.path.join(folder, "best"), monitor="accuracy"))
    backup = with_model(run_callbacks.Backup(os.path.join(folder, "backup")))
    copied = with_model(run_callbacks.Backup(os.path.join(folder, "backup"),
                                             checkpoint=checkpoint))
    log = with_model(run_callbacks.CSVLogger(os.path.join(folder, "log.csv"), append=True))

    def save(epoch):
        model.layers[0].bias.assign(np.full(256, float(epoch), "float32"))  # tells them apart
        checkpoint.on_epoch_end(epoch, {"accuracy": 0.001 * (epoch + 1)})

    def write_log(epoch):
        if epoch == 0:
            log.on_train_begin()
        log.on_epoch_end(epoch, {"loss": 0.123456789 * (epoch + 1), "accuracy": 0.5})

    def write_board(epoch):  # a new event file each time, flushed when closed
        board = with_model(run_callbacks.TensorBoard(os.path.join(folder, "tensorboard")))
        board.on_train_begin()
        board.on_epoch_end(epoch, {"loss": 1.0, "accuracy": 0.5})
        board.on_train_end()

    def bias(loaded):
        return float(loaded.layers[0].bias.numpy()[0])

    def last_is_whole(epoch):
        assert bias(keras.models.load_model(os.path.join(folder, "last.keras"))) == epoch

    def best_is_whole(epoch):
        assert bias(presets.load(os.path.join(folder, "best"))) == epoch
        assert json.load(open(os.path.join(folder, "best.json")))["epoch"] == epoch + 1

    def backup_is_whole(epoch):
        assert run_callbacks.restore_backup(model, os.path.join(folder, "backup")) == epoch + 1

    def log_is_whole(epoch):
        runs.trim_log(os.path.join(folder, "log.csv"), epoch + 1)  # as the resumed run does
        assert runs.logged_epochs(os.path.join(folder, "log.csv")) == list(range(epoch + 1))

    def config_is_whole(epoch):
        assert config_lib.read_yaml(os.path.join(folder, "config.yaml"), "")["epochs"] == epoch

    return {
        "last.keras": (save, os.path.join(folder, "last.keras"), last_is_whole),
        "best": (save, None, best_is_whole),  # last.keras, written first, may fail first
        "backup": (lambda e: backup.on_epoch_end(e, {"loss": 1.0}),
                   os.path.join(folder, "backup"), backup_is_whole),
        # As a run writes it: copied from the epoch's last.keras (which may fail first).
        "backup copied": (lambda e: (save(e), copied.on_epoch_end(e, {"loss": 1.0})), None,
                          backup_is_whole),
        "log.csv": (write_log, os.path.join(folder, "log.csv"), log_is_whole),
        "config.yaml": (lambda e: runs.write_config(folder, {"epochs": e, "pad": "x" * 5000}),
                        os.path.join(folder, "config.yaml"), config_is_whole),
        "tensorboard": (write_board, os.path.join(folder, "tensorboard"), lambda epoch: None),
    }


@pytest.mark.parametrize("writer", ["last.keras", "best", "backup", "backup copied", "log.csv",
                                    "config.yaml", "tensorboard"])
def test_a_full_disk_is_named_and_leaves_the_last_good_files_whole(disk, writer):
    if isinstance(disk, InjectedDisk) and writer == "tensorboard":
        pytest.skip("TensorFlow writes event files through its own C++ code: tmpfs only")
    model = small_model()
    write, named, whole = epoch_writers(disk.root, model)[writer]
    write(0)
    disk.leave(64)
    last_good = 0
    with pytest.raises(OSError, match="^no space left on device while writing ") as raised:
        for epoch in range(1, 1000):  # small writes fill what is left (a tmpfs page) in time
            write(epoch)
            last_good = epoch
    assert raised.value.errno == errno.ENOSPC
    assert named is None or str(raised.value).endswith(named), raised.value
    disk.release()
    assert no_partial_files(disk.root) == []
    whole(last_good)
    write(1000)  # space again: the next write works


def test_a_first_epoch_that_fails_midway_is_resumed_not_refused(tmp_path):
    """The disk fills after last.keras and best/ of epoch 1 but before its backup: the rerun
    must start over from the run's starting state, not call the files an earlier run's."""
    model, folder = small_model(), tmp_path / "run"
    os.makedirs(folder)
    backup = run_callbacks.Backup(folder / "backup")
    checkpoint = run_callbacks.AtomicCheckpoint(folder / "last.keras", folder / "best",
                                                monitor="accuracy")
    for callback in (backup, checkpoint):
        callback.set_model(model)
    model.layers[0].bias.assign(np.full(256, 7.0, "float32"))
    backup.on_train_begin()
    model.layers[0].bias.assign(np.full(256, 8.0, "float32"))  # epoch 1 trains
    checkpoint.on_epoch_end(0, {"accuracy": 0.5})  # ... and then the disk is full
    assert runs.epochs_to_resume({"epochs": 2}, folder, folder / "backup", folder) == 0
    assert run_callbacks.restore_backup(model, folder / "backup") == 0
    assert float(model.layers[0].bias.numpy()[0]) == 7.0  # the starting weights
    backup.on_epoch_end(0, {"loss": 1.0})
    backup.on_train_begin()  # a resumed run's start keeps the backup it resumed from
    assert run_callbacks.backup_epochs(folder / "backup") == 1


def test_the_log_keeps_whole_rows_of_epochs_the_backup_holds(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\r\n0,0.5\r\n1,0.4\r\n2,0.3\r\n3,0.")  # cut while writing 3
    runs.trim_log(path, 3)
    assert path.read_bytes() == b"epoch,loss\r\n0,0.5\r\n1,0.4\r\n2,0.3\r\n"
    runs.trim_log(path, 2)  # epoch 2's row came after its backup failed
    assert runs.logged_epochs(path) == [0, 1]


@pytest.mark.slow
def test_a_full_disk_mid_run_loses_no_epoch(run_disk, finished_run):
    """A run continued to a higher `epochs` on a disk that fills up during its epoch 3:
    the error names the file, nothing is half-written, and once there is space again the
    rerun trains epoch 3 again and logs every epoch once."""
    config, _ = copy_of(finished_run, run_disk.root, epochs=3)
    folder = os.path.join(run_disk.root, "run")
    fill = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: run_disk.leave(4096))
    with pytest.raises(OSError, match="^no space left on device while writing "):
        train(config=config, callbacks=[fill])
    run_disk.release()
    assert no_partial_files(folder) == []
    assert runs.logged_epochs(os.path.join(folder, "log.csv"))[:2] == [0, 1]
    _, history = train(config=config)
    assert history.epoch == [2]
    assert runs.logged_epochs(os.path.join(folder, "log.csv")) == [0, 1, 2]
    assert run_callbacks.backup_epochs(os.path.join(folder, "backup")) == 3


def test_an_epoch_whose_loss_is_nan_is_not_saved(tmp_path):
    model = small_model()
    checkpoint = run_callbacks.AtomicCheckpoint(tmp_path / "last.keras")
    backup = run_callbacks.Backup(tmp_path / "backup")
    for callback in (checkpoint, backup):
        callback.set_model(model)
        callback.on_epoch_end(0, {"loss": float("nan")})
    assert os.listdir(tmp_path) == []


def test_an_epoch_end_reads_the_variables_once_and_every_file_holds_them(tmp_path,
                                                                         monkeypatch):
    """last.keras is written from the variables; best/ and the backup copy its weights: each
    loads back to the same weights and optimizer state, and save_weights is not called."""
    model = small_model()
    model.optimizer.iterations.assign(3)
    model.layers[0].bias.assign(np.arange(256, dtype="float32"))
    model.optimizer.variables[2].assign(np.full(model.optimizer.variables[2].shape, 0.25))
    checkpoint = run_callbacks.AtomicCheckpoint(tmp_path / "last.keras", tmp_path / "best",
                                                monitor="accuracy")
    backup = run_callbacks.Backup(tmp_path / "backup", checkpoint=checkpoint)
    monkeypatch.setattr(keras.Model, "save_weights",
                        lambda *a, **k: pytest.fail("the variables were read again"))
    for callback in (checkpoint, backup):
        callback.set_model(model)
        callback.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    monkeypatch.undo()
    expected = [v.numpy() for v in model.weights + model.optimizer.variables]
    for load in (lambda m: run_callbacks.restore_backup(m, tmp_path / "backup"),
                 lambda m: m.load_weights(tmp_path / "best" / "model.weights.h5"),
                 lambda m: m.load_weights(tmp_path / "last.keras")):
        fresh = small_model()
        load(fresh)
        for got, want in zip(fresh.weights + fresh.optimizer.variables, expected):
            np.testing.assert_array_equal(got.numpy(), want)
    assert presets.load(tmp_path / "best").count_params() == model.count_params()
    # An epoch whose .keras file was not written this epoch end is read from the variables.
    backup.on_epoch_end(1, {"loss": 1.0})
    assert run_callbacks.backup_epochs(tmp_path / "backup") == 2


# ------------------------------------------------------------ 7: errors that mislead
@pytest.mark.parametrize("damage", ["truncated", "not_a_mapping"])
def test_a_damaged_run_config_is_named(finished_run, tmp_path, damage):
    config, _ = copy_of(finished_run, tmp_path)
    path = tmp_path / "run" / "config.yaml"
    text = path.read_text()
    path.write_text(text[:text.index("data:") + 20] + "\n  - [" if damage == "truncated"
                    else "- a list\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))} \(the settings this run "
                                         rf"was started with; "
                                         rf".*\) (is not valid YAML: .* at line \d+|must hold "
                                         "a mapping)"):
        train(config=config)


def test_a_damaged_last_keras_of_a_finished_run_is_named(finished_run, tmp_path):
    config, _ = copy_of(finished_run, tmp_path)
    last = tmp_path / "run" / "last.keras"
    last.write_bytes(last.read_bytes()[:500])
    with pytest.raises(ValueError, match=f"{re.escape(str(last))} is not a readable .keras"):
        train(config=config)


def test_a_damaged_backup_falls_back_or_is_named(tmp_path):
    model, backup = small_model(), tmp_path / "backup"
    saver = run_callbacks.Backup(backup)
    saver.set_model(model)
    for epoch in range(2):
        model.layers[0].bias.assign(np.full(256, float(epoch), "float32"))
        saver.on_epoch_end(epoch, {"loss": 1.0})
    (backup / "training_metadata.json").write_text('{"epo')
    assert run_callbacks.backup_epochs(backup) == 1  # the pair before it
    assert run_callbacks.restore_backup(model, backup) == 1
    assert float(model.layers[0].bias.numpy()[0]) == 0.0  # epoch 1's weights, not epoch 2's
    (backup / "training_metadata.json").write_text('{"epo')
    (backup / "latest.weights.h5.bkp").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match=r"the backup in .* cannot be read \(.*"
                                         r"training_metadata.json \(the backup's epoch count\) "
                                         r"is not valid JSON.*resume=False"):
        run_callbacks.restore_backup(model, backup)


def test_a_damaged_best_json_is_named(tmp_path):
    (tmp_path / "best.json").write_text('{"accuracy": 0.')
    with pytest.raises(ValueError, match=r"best.json \(the best score so far\) is not valid "
                                         "JSON"):
        run_callbacks.AtomicCheckpoint(tmp_path / "last.keras", tmp_path / "best",
                                       monitor="accuracy")


def test_recipe_values_of_the_wrong_type_name_their_key(tmp_path):
    good = {"model": {"name": "s3d"}, "data": {"train": {"root": "/x"}}}
    cases = {"optimizer.learning_rate=fast": r"optimizer.learning_rate must be a number, "
                                             r"got 'fast'",
             "epochs=2.5": "epochs must be a positive int, got 2.5",
             "data.flip=2": "data.flip must be true or false, got 2",
             "data.scale_jitter=[128]": r"data.scale_jitter must be \[smallest, largest\]",
             "jit_compile=1": r"jit_compile must be one of \('auto', True, False\), got 1",
             "data.train=/x": "data.train must be a mapping of keywords",
             "data.scale_jitter=[1,": "its value is not valid YAML"}
    for override, message in cases.items():
        with pytest.raises(ValueError, match=message):
            load_config(good, [override])
    # YAML 1.1 reads 1e-4 (no dot) as a string: taken as the number it spells.
    assert load_config(good, ["optimizer.weight_decay=1e-4"])["optimizer"]["weight_decay"] == 1e-4
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: {name: s3d\ndata: [\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(broken))} \(a training recipe\) "
                                         r"is not valid YAML: "
                                         r".* at line \d+, column \d+"):
        load_config(broken)


def test_every_recipe_key_has_a_type():
    kinds = (set(config_lib.POSITIVE_INTS) | set(config_lib.INTS) | set(config_lib.NUMBERS)
             | set(config_lib.NUMBER_LISTS) | set(config_lib.BOOLS) | set(config_lib.STRINGS)
             | set(config_lib.SECTIONS) | set(config_lib.CHOICES))
    assert set(config_lib.leaves(config_lib.DEFAULTS)) == kinds
    assert config_lib.RESUMABLE <= kinds


# ----------------------------------------------------------------------------- 9: noise
def test_predicting_with_a_saved_model_warns_nothing(tmp_path):
    from keras_video import inference, zoo

    model = zoo.get("r3d_18", weights=None, classes=4, input_shape=(8, 32, 32, 3),
                    **TINY_MODEL["kwargs"])
    model.save(tmp_path / "m.keras")
    clips = np.zeros((1, 8, 32, 32, 3), np.uint8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for form in (model, tmp_path / "m.keras"):
            inference.load(form)(clips)
        inference.feature_model(model)(clips.astype("float32"))
    assert not [str(w.message) for w in caught if "structure" in str(w.message)]
