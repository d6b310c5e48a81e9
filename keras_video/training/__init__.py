"""Training: recipes (`config`), optimizers and schedules, `tf.distribute` strategies and a
resumable `train` that writes its best model as a preset. (`evaluate` and `write_report` live
in `keras_video.inference`; they are kept here for existing callers.)"""
from keras_video.inference import evaluate, write_report  # noqa: F401
from keras_video.training.callbacks import AtomicCheckpoint
from keras_video.training.config import DEFAULTS, load_config
from keras_video.training.optimizers import build_optimizer, build_schedule
from keras_video.training.strategies import make_strategy
from keras_video.training.trainer import freeze_batch_norm, train

__all__ = ["AtomicCheckpoint", "DEFAULTS", "build_optimizer", "build_schedule", "evaluate",
           "freeze_batch_norm", "load_config", "make_strategy", "train", "write_report"]
