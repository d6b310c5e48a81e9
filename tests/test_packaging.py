"""What `pip install keras-video` gives a user: the recipes, model cards and label files must be
inside the wheel, and the `keras-video` command must find them with no source tree around.

The wheel is built from this checkout without network or build isolation, installed with
`--no-deps` into a fresh virtual environment that borrows this environment's dependencies
(TensorFlow and the rest) through a `.pth` line, and run from an empty folder with a clean
`PYTHONPATH`, so that nothing can come from the checkout."""
import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`(python, keras_video_command, site_packages)` of a fresh venv holding the wheel."""
    scratch = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and *.egg-info/ into the tree it builds.
    source = scratch / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "site", "*.egg-info", "__pycache__", ".hypothesis",
        ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(scratch / "dist"), str(source)],
                   check=True, capture_output=True, cwd=scratch)
    wheel, = glob.glob(str(scratch / "dist" / "keras_video-*.whl"))
    env_dir = scratch / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = str(env_dir / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # The dependencies, appended after the venv's own site-packages: the wheel's keras_video
    # comes first, and an editable install of this checkout there is not activated (a path
    # listed in a .pth file does not have its own .pth files processed).
    with open(os.path.join(site, "borrowed_dependencies.pth"), "w") as f:
        f.write(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
                    "--no-index", "-q", wheel], check=True, capture_output=True)
    return python, str(env_dir / "bin" / "keras-video"), site


def _run(command, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_the_wheel_lists_its_packaged_recipes(installed, tmp_path):
    python, command, site = installed
    done = _run([command, "recipes", "--json"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    in_checkout = sorted(os.path.basename(p)[:-len(".yaml")] for p in
                         glob.glob(os.path.join(ROOT, "keras_video", "recipes", "*.yaml")))
    assert sorted(listed) == in_checkout and in_checkout
    for row in listed.values():
        assert row["path"].startswith(site), row["path"]  # the installed copy, not the checkout
        assert row["model"] and row["dataset"]


def test_the_wheel_loads_a_recipe_by_name_with_its_card_and_labels(installed, tmp_path):
    python, _, site = installed
    probe = (
        "import json, os, keras_video\n"
        "from keras_video import presets, recipes, training\n"
        "config = training.load_config('s3dg_ucf101_split1', ['epochs=2'])\n"
        "cards = os.listdir(os.path.join(recipes.FOLDER, 'cards'))\n"
        "detection = os.listdir(os.path.join(recipes.FOLDER, 'detection'))\n"
        "print(json.dumps({'package': keras_video.__file__, 'epochs': config['epochs'],"
        " 'model': config['model']['name'], 'cards': len(cards), 'detection': sorted(detection),"
        " 'kinetics400': len(presets.get('s3d.kinetics400').class_names)}))\n")
    done = _run([python, "-c", probe], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["package"].startswith(site)
    assert facts["epochs"] == 2 and facts["model"] == "s3dg"
    assert facts["cards"] >= 1 and facts["kinetics400"] == 400
    assert facts["detection"] == sorted(os.listdir(os.path.join(ROOT, "keras_video", "recipes",
                                                                "detection")))
