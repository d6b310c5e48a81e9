"""The demo's plumbing at a tiny size (its accuracy and time targets are full-size, measured
by running `keras-video demo`): real video files, both models trained through `train`, the
decoded-clip cache shared, the SavedModel reloaded to classify a file, the JSON and the PNG."""
import json
import os

import numpy as np
import pytest
import yaml

from keras_video import data, demo


@pytest.mark.timeout(600)
def test_tiny_demo_writes_everything_it_reports(tmp_path):
    settings = dict(frames=8, size=32, train_per_class=2, test_per_class=1, epochs=1,
                    batch_size=8, width_multiplier=0.125)
    result = demo.run(workdir=str(tmp_path), settings=settings, verbose=False)
    json.dumps(result)  # the --json object
    classes = demo.DEMO["classes"]
    assert classes == data.ORBIT_CLASSES and demo.DEMO["frames"] == 16  # C2D's frames: 0 and 8
    assert result["test_videos"] == len(classes) and sorted(result["classes"]) == sorted(classes)
    assert result["chance_accuracy"] == 1 / len(classes)
    for key in ("s3dg_accuracy", "c2d_accuracy"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["predicted_label"] in result["classes"] and 0 < result["predicted_score"] <= 1
    assert os.path.isfile(os.path.join(result["savedmodel"], "saved_model.pb"))
    assert os.path.getsize(result["training_curves"]) > 1000
    assert any(n.startswith("decoded_train_clips") for n in os.listdir(tmp_path))
    for model in ("s3dg", "c2d"):
        assert os.path.isfile(tmp_path / f"report_{model}" / "report.json")
        assert os.path.isfile(tmp_path / "runs" / f"demo_{model}" / "last.keras")
        with open(tmp_path / "runs" / f"demo_{model}" / "config.yaml") as f:
            kwargs = yaml.safe_load(f)["model"]["kwargs"]
        assert kwargs["bn_momentum"] == demo.DEMO["bn_momentum"]  # both models, same recipe


@pytest.mark.timeout(300)
def test_decoding_the_training_clips_completes_the_shared_cache(tmp_path):
    # The demo's two trainings read the cache at once, which works only for a finished cache
    # (tf.data writes the .index file last); an unfinished one would make the second training
    # fail on the first's lock.
    # Batch 2 of 8 videos: the first batch alone does not need every video, the shuffle does.
    settings = {**demo.DEMO, "frames": 8, "train_per_class": 2, "test_per_class": 1,
                "batch_size": 2}
    train_dir, _ = demo.write_videos(str(tmp_path), settings, progress=False)
    assert not any(n.startswith("decoded_train_clips") for n in os.listdir(tmp_path))
    demo.decode_training_clips(train_dir, str(tmp_path), settings)
    files = sorted(os.listdir(tmp_path))
    assert "decoded_train_clips.index" in files, files
    assert not any(n.endswith(".lockfile") for n in files), files


@pytest.mark.timeout(300)
def test_the_second_process_evaluates_the_trained_weights_on_the_model_it_prepared(
        tmp_path, monkeypatch):
    # In the demo these run in the second process (a Pool(1) worker keeps _PREPARED between
    # its tasks); here in this one, on C2D, the cheaper model to trace.
    from keras_video.training import trainer

    monkeypatch.setattr(demo, "EVALUATION_BATCH", 3)  # 4 videos: a full batch and a last one
    settings = {**demo.DEMO, "frames": 8, "train_per_class": 1, "test_per_class": 1}
    train_dir, test_list = demo.write_videos(str(tmp_path), settings, progress=False)
    task = ("c2d", train_dir, test_list, str(tmp_path), settings)
    demo.prepare_evaluation(*task)
    prepared = demo._PREPARED["c2d"]
    before = demo.evaluate_demo_model(prepared, test_list, settings)["predictions"]["top1"]

    # "Trained" weights: the built ones, changed, with a logit bias that makes every video
    # the class the untrained model did not give the first one.
    config = demo._demo_config("c2d", train_dir, str(tmp_path), settings)
    trained = trainer.build_model(config, len(test_list.class_names))
    rng = np.random.default_rng(0)
    trained.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype)
                         for w in trained.get_weights()])
    target = (before[0] + 1) % len(test_list.class_names)
    trained.get_layer("Logits_Conv3d_0c_1x1").bias.assign(
        np.eye(len(test_list.class_names), dtype="float32")[target] * 1e4)
    os.makedirs(trainer.run_folder(config))
    trained.save(os.path.join(trainer.run_folder(config), "last.keras"))

    report = demo.evaluate_trained(*task)
    assert "c2d" not in demo._PREPARED
    for loaded, saved in zip(prepared.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(loaded, saved)
    assert report["predictions"]["top1"] == [target] * len(test_list)
    assert report["videos"] == len(test_list)
    # Where the preparation failed, evaluate_trained builds the model itself.
    assert demo.evaluate_trained(*task) == report
