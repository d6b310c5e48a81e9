"""`tf.distribute` strategies by name: the engine users already run on GPUs and TPUs."""
import tensorflow as tf


def make_strategy(name="default"):
    """default (one device), mirrored (every local GPU), multi_worker (the cluster in
    TF_CONFIG, one process per machine) or tpu (the TPU this host is attached to)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"strategy must be default, mirrored, multi_worker or tpu, got {name!r}")
