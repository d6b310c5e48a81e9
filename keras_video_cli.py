"""The `keras-video` console command. It lives outside the package because TensorFlow starts
printing as soon as `keras_video` is imported: here the quiet start-up is switched on first
(unless `--verbose`), then `keras_video.cli.main` runs."""
import os
import sys


def run():
    if "--verbose" not in sys.argv[1:]:
        os.environ.setdefault("KERAS_VIDEO_QUIET_STARTUP", "1")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info and warnings
    from keras_video import cli
    sys.exit(cli.main())


if __name__ == "__main__":
    run()
