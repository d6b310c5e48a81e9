"""The documentation: the site builds in strict mode, the generated model tables and figure are
current, and the README stays a short front page whose links and commands are real."""
import argparse
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _script(name):
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


models_page = _script("models_page")
reference_pages = _script("reference_pages")
# Put on the line before a ```python block of a page: the test below runs the block.
RUNS = "<!-- runs in tests/test_docs.py -->"


def test_site_builds_in_strict_mode(tmp_path):
    # Strict: a broken link or anchor, a page missing from the nav or a docstring griffe cannot
    # read is a warning, and any warning fails the build.
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(site)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    api = (site / "api" / "index.html").read_text()
    for name in ("keras_video.data.read_video", "keras_video.export.export_tflite",
                 "keras_video.presets.load", "keras_video.presets.ClipSpec",
                 "keras_video.inference.load", "keras_video.inference.decode_predictions",
                 "keras_video.weights.copy_weights", "keras_video.layers.DepthwiseConv3D",
                 "keras_video.training.train", "keras_video.zoo.list_models",
                 "keras_video.recipes.names"):
        assert f'id="{name}"' in api, f"the API reference lost {name}"
    assert "inception_family.svg" in (site / "models" / "index.html").read_text()


def test_generated_files_are_current():
    for path, text in models_page.render(ROOT).items():
        assert (ROOT / path).read_text() == text, \
            f"{path} is stale: run python scripts/models_page.py"


def test_tables_list_every_registered_model():
    from keras_video import zoo
    readme = (ROOT / "README.md").read_text()
    page = (ROOT / "docs" / "models.md").read_text()
    for name in zoo.list_models():
        assert f"| `{name}` |" in readme and f"| `{name}` |" in page, name


def test_check_fails_on_a_stale_file_and_writing_fixes_it(tmp_path):
    for path in (models_page.README, models_page.MODELS_PAGE, models_page.FIGURE,
                 models_page.COUNTS):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    assert models_page.main(["--check", "--root", str(tmp_path)]) == 0
    readme = tmp_path / models_page.README
    counts = json.loads((tmp_path / models_page.COUNTS).read_text())
    row = f"{counts['s3d']['trainable_params'] / 1e6:.2f}M"
    readme.write_text(readme.read_text().replace(row, "1.00M"))
    (tmp_path / models_page.FIGURE).unlink()
    assert models_page.main(["--check", "--root", str(tmp_path)]) == 1
    assert models_page.main(["--root", str(tmp_path)]) == 0
    assert readme.read_text() == (ROOT / models_page.README).read_text()
    assert (tmp_path / models_page.FIGURE).read_text() == \
        (ROOT / models_page.FIGURE).read_text()


def test_counts_that_miss_a_model_or_its_clip_are_stale():
    models = models_page.registered_models()
    counts = json.loads((ROOT / models_page.COUNTS).read_text())
    assert models_page.stale_counts(models, counts) == []
    missing = {k: v for k, v in counts.items() if k != "i3d"}
    assert models_page.stale_counts(models, missing) == ["no counts for ['i3d']"]
    moved = {**counts, "r3d_18": {**counts["r3d_18"], "size": 224}}
    assert models_page.stale_counts(models, moved) == [
        "r3d_18 was counted at 16x224, its clip is now 16x112"]



def test_stale_counts_stop_the_generator(tmp_path):
    for path in (models_page.README, models_page.MODELS_PAGE):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    counts = json.loads((ROOT / models_page.COUNTS).read_text())
    (tmp_path / models_page.COUNTS).parent.mkdir(parents=True)
    (tmp_path / models_page.COUNTS).write_text(json.dumps({**counts, "old_model": counts["s3d"]}))
    with pytest.raises(SystemExit, match=r"counts for unregistered \['old_model'\].*--recount"):
        models_page.render(tmp_path)


@pytest.mark.parametrize("name", ["c2d", "r3d_18"])
def test_cached_counts_match_a_recount_of_a_cheap_model(name):
    # One cheap model per family in the default run; the slow test below recounts them all.
    counts = json.loads((ROOT / models_page.COUNTS).read_text())
    assert models_page.count(name) == counts[name]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 2 minutes on 2 quiet cores; 12 on a loaded machine
def test_cached_counts_match_a_recount(tmp_path):
    (tmp_path / models_page.COUNTS).parent.mkdir(parents=True)
    recounted = models_page.recount(tmp_path)
    assert recounted == json.loads((ROOT / models_page.COUNTS).read_text())


def test_readme_is_a_short_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < 8 * 1024
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert links, "the README links to the documentation"
    for link in links:
        if not re.match(r"[a-z]+://", link):
            assert (ROOT / link).exists(), f"README links to {link}, which does not exist"
    # .ci/run promises to run the README's test command verbatim.
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in readme


def test_generated_reference_parts_are_current():
    for path, text in reference_pages.render(ROOT).items():
        assert (ROOT / path).read_text() == text, \
            f"{path} is stale: run python scripts/reference_pages.py"


def test_reference_check_sees_a_new_flag_and_layer_and_writing_fixes_them(tmp_path,
                                                                         monkeypatch):
    from keras_video import cli
    for path in (reference_pages.CLI_PAGE, reference_pages.PRESETS_PAGE,
                 reference_pages.LAYOUT_PAGE, reference_pages.CONTRACT):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    shutil.copytree(ROOT / "keras_video", tmp_path / "keras_video",
                    ignore=shutil.ignore_patterns("__pycache__", "*.yaml", "*.txt", "*.md"))
    assert reference_pages.main(["--check", "--root", str(tmp_path)]) == 0

    real = cli.build_parser

    def with_a_new_flag():
        parser = real()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices["predict"].add_argument("--new-flag", help="a flag the page lacks")
        return parser

    monkeypatch.setattr(cli, "build_parser", with_a_new_flag)
    contract = tmp_path / reference_pages.CONTRACT
    contract.write_text(contract.read_text().replace("    keras_video.demo\n",
                                                     "    keras_video.demo\n    keras_video.plots\n", 1)
                        .replace(" | keras_video.plots", ""))
    assert reference_pages.main(["--check", "--root", str(tmp_path)]) == 1
    assert reference_pages.main(["--root", str(tmp_path)]) == 0
    assert "| `--new-flag NEW_FLAG` | - | a flag the page lacks |" in \
        (tmp_path / reference_pages.CLI_PAGE).read_text()
    layout = (tmp_path / reference_pages.LAYOUT_PAGE).read_text()
    assert "demo\n  ↓\nplots\n  ↓\ntraining   detection" in layout
    assert reference_pages.main(["--check", "--root", str(tmp_path)]) == 0


def marked_examples(page):
    """The ```python blocks of a docs page that follow a RUNS line."""
    text = (ROOT / "docs" / page).read_text()
    return re.findall(re.escape(RUNS) + r"\n```python\n(.*?)\n```", text, flags=re.S)


@pytest.mark.parametrize("page", ["presets.md"])
def test_marked_examples_run(page, tmp_path, monkeypatch):
    """The page's marked examples, run in order in one namespace in an empty folder, as a
    reader would paste them."""
    examples = marked_examples(page)
    assert examples, f"docs/{page} lost its runnable examples"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    for i, example in enumerate(examples):
        exec(compile(example, f"docs/{page} example {i + 1}", "exec"), namespace)
