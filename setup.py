"""keras-video: a Keras 3 / TensorFlow model zoo for video classification."""
import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "keras_video" / "__init__.py").read_text()).group(1)

setup(
    name="keras-video",
    version=VERSION,
    description="Video classification models (I3D, S3D, S3D-G, CSN, R(2+1)D) for Keras 3 and TensorFlow",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_video", "keras_video.*"]),
    package_data={"keras_video.weights": ["labels/*.txt"]},
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
        # pytest-xdist: two test processes, since most test time is single-threaded tracing.
        # hypothesis: the decoder's fuzz test over damaged video files.
        "test": ["pytest", "pytest-timeout", "pytest-xdist", "hypothesis", "tf2onnx", "onnxruntime",
                 "ai-edge-litert", "tensorflow-serving-api", "apache-beam[tfrecord]"],
        # The peers of benchmarks/decoding.py; torchcodec also needs FFmpeg's shared libraries.
        "bench": ["decord==0.6.0", "torchcodec", "torch"],
    },
    entry_points={"console_scripts": ["keras-video=keras_video.cli:run"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
