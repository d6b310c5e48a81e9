"""Training and evaluation: recipes (`config`), optimizers and schedules, `tf.distribute`
strategies, resumable `train`, multi-view `evaluate`, and the figures of a run."""
from keras_video.training.callbacks import AtomicCheckpoint
from keras_video.training.config import DEFAULTS, load_config
from keras_video.training.evaluation import evaluate, write_report
from keras_video.training.optimizers import build_optimizer, build_schedule
from keras_video.training.strategies import make_strategy
from keras_video.training.trainer import freeze_batch_norm, train

__all__ = ["AtomicCheckpoint", "DEFAULTS", "build_optimizer", "build_schedule", "evaluate",
           "freeze_batch_norm", "load_config", "make_strategy", "train", "write_report"]
