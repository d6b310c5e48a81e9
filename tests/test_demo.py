"""The demo's plumbing at a tiny size (its accuracy and time targets are full-size, measured
by running `keras-video demo`): real video files, both models trained through `train`, the
decoded-clip cache shared, the SavedModel reloaded to classify a file, the JSON and the PNG."""
import json
import os

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
