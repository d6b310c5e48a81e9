"""keras-video: a Keras 3 / TensorFlow model zoo for video understanding."""
import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
# MkDocs 1.6 is the first to validate anchors (mkdocs.yml); the upper bounds keep to the major
# versions the site is built and tested with.
DOCS = ["mkdocs>=1.6,<2", "mkdocs-material>=9.5,<10", "mkdocstrings[python]>=1.0"]
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "keras_video" / "version.py").read_text()).group(1)

setup(
    name="keras-video",
    version=VERSION,
    description="Video understanding models (I3D, S3D, S3D-G, CSN, R(2+1)D) for Keras 3 and TensorFlow",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_video", "keras_video.*"]),
    package_data={"keras_video.zoo": ["labels/*.txt", "labels/README.md"],
                  "keras_video.recipes": ["*.yaml", "detection/*.yaml", "README.md",
                                          "cards/*.md"]},
    install_requires=[
        "tensorflow>=2.16",  # GPU users: pip install "tensorflow[and-cuda]"
        "keras>=3",
        "absl-py",
        "av",
        "numpy",
        "pyyaml",       # training recipes
        "matplotlib",   # training-curve and confusion-matrix figures
        "tensorboard",  # training logs (TensorFlow no longer installs it)
    ],
    extras_require={
        # TF Serving's warm-up records need tensorflow-serving-api's protos.
        "export": ["tf2onnx", "onnxruntime", "ai-edge-litert", "tensorflow-serving-api"],
        "convert": ["torch", "torchvision"],
        # The TFRecord conversion on Dataflow / Flink / Spark; [tfrecord] brings the CRC32C.
        "beam": ["apache-beam[tfrecord]"],
        # The documentation site (mkdocs.yml); tests/test_docs.py builds it in strict mode.
        "docs": DOCS,
        # pytest-xdist: two test processes, since most test time is single-threaded tracing.
        # import-linter: the layering contract (.importlinter) is a test; hypothesis: the
        # property-based tests of the .pth reader and of the decoder over damaged video files;
        # decord: the decoder's frames are checked against its, bit for bit.
        "test": ["pytest", "pytest-timeout", "pytest-xdist", "hypothesis", "tf2onnx", "onnxruntime",
                 "ai-edge-litert", "tensorflow-serving-api", "apache-beam[tfrecord]",
                 "import-linter", "decord==0.6.0"] + DOCS,
        # The peers of benchmarks/decoding.py; torchcodec also needs FFmpeg's shared libraries.
        "bench": ["decord==0.6.0", "torchcodec", "torch"],
    },
    py_modules=["keras_video_cli"],  # the console command (see its docstring)
    entry_points={"console_scripts": ["keras-video=keras_video_cli:run"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
