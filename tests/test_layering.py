"""The package's layering (`.importlinter`): subpackages import only the layers below them,
so no import loop between them can grow unseen."""
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(pathlib.Path(sys.executable).parent))


def lint(root):
    return subprocess.run([LINT, "--config", str(root / ".importlinter")], cwd=root,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": ""})


@pytest.mark.skipif(LINT is None, reason="import-linter is not installed (the test extra)")
def test_the_layers_contract_is_kept():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.skipif(LINT is None, reason="import-linter is not installed (the test extra)")
def test_an_upward_import_breaks_it(tmp_path):
    """The check can fail: the machinery of `weights` importing a model family is refused."""
    shutil.copytree(ROOT / "keras_video", tmp_path / "keras_video",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path)
    fetching = tmp_path / "keras_video" / "weights" / "fetching.py"
    fetching.write_text(fetching.read_text() + "\nfrom keras_video.zoo import inception3d\n")
    result = lint(tmp_path)
    assert result.returncode != 0 and "0 kept, 1 broken" in result.stdout
    assert "keras_video.weights.fetching -> keras_video.zoo" in result.stdout
