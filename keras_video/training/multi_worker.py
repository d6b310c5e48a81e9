"""Work-around that makes `model.fit` run under MultiWorkerMirroredStrategy in Keras 3.15.

Keras 3.15 breaks multi-worker `fit` in two places; both raise on every worker, and a worker
that has raised leaves its peers waiting in a collective forever, so the run looks hung:
1. Before the first step `fit` (and `evaluate`) averages a first data batch across replicas
   with `strategy.reduce` to learn the input shapes, and the multi-worker strategy refuses an
   (x, y) tuple. The trainer builds the model from the dataset's element spec before `fit`
   and skips that step (`trainer.build_before_fit`).
2. After every step it averages the logged scalars (loss, metrics) across workers with
   `strategy.reduce("MEAN", v, axis=0)`, and a scalar has no axis 0. `patch_scalar_reduction`
   averages scalars over replicas only (axis=None), which is what the logs mean.
The test that runs two workers over loopback fails if either is removed.
"""
import keras
from keras.src.backend.tensorflow import trainer as tf_trainer


def in_multi_worker_mode(strategy):
    return tf_trainer._collective_all_reduce_multi_worker(strategy)


def patch_scalar_reduction():
    """Makes Keras average scalar step outputs across workers over replicas only."""
    original = tf_trainer.reduce_per_replica
    if getattr(original, "averages_scalars", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and in_multi_worker_mode(strategy):
            def mean(value):
                axis = None if value.shape.rank == 0 else 0
                return strategy.reduce("MEAN", value, axis=axis)

            return keras.tree.map_structure(mean, values)
        return original(values, strategy, reduction)

    reduce_per_replica.averages_scalars = True
    tf_trainer.reduce_per_replica = reduce_per_replica
