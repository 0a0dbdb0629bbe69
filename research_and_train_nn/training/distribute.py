"""Data-parallel training with tf.distribute: ``train.py --strategy mirrored``.

``mirrored``: one machine, a replica per GPU (every GPU, or the devices named); naming several
``/cpu:N`` splits the CPU into that many logical devices (how the tests and CI run it).
``multi-worker``: MultiWorkerMirroredStrategy, one ``train.py`` process per machine, each told
the cluster and its own place in it by ``TF_CONFIG`` (docs/scale-out.md); every worker reads
the whole input and trains on its share of each batch (tf.data splits each batch into one part
per replica, and each worker keeps its own parts).
The batch size stays the global one, split over the replicas, and batch normalisation
synchronises its statistics across them (model.py), so a step over N replicas is the step one
device takes on the whole batch.
"""
from __future__ import annotations

from contextlib import contextmanager

from glasses_core.quiet import quiet

STRATEGIES = ("none", "mirrored", "multi-worker")


def make_strategy(name: str, devices: list[str] | None = None):
    """The tf.distribute strategy called ``name`` (None for "none")."""
    if name == "none":
        return None
    with quiet():  # TensorFlow's start-up notes (--verbose shows them)
        import tensorflow as tf
    if name == "mirrored":
        _split_cpu(devices or [])
        return tf.distribute.MirroredStrategy(devices=devices or None)
    if name == "multi-worker":
        return _multi_worker_strategy(tf)
    raise ValueError(f"unknown strategy {name!r}: one of {', '.join(STRATEGIES)}")


def _multi_worker_strategy(tf):
    """MultiWorkerMirroredStrategy whose ``reduce`` takes the two kinds of value Keras 3's ``fit``
    gives it (keras-team/keras#20585), which its own ``reduce`` refuses:

    - a nest: before the first step ``fit`` reduces its first batch, an ``(images, labels)``
      pair ("Attempt to convert a value (PerReplica...) to a Tensor"); MirroredStrategy's
      ``reduce`` maps over nests, this one now does too;
    - a scalar along ``axis=0``: each step's loss and metric values ("Invalid reduction
      dimension 0 for input with 0 dimensions"); a scalar is reduced across the replicas only
      (``axis=None``), the mean of each replica's value, as Keras takes it under MirroredStrategy.

    Those scalars are each step's logs only: the epoch's logs (history.csv, early stopping) are
    read from the metrics' variables, summed over every replica of every worker, so every worker
    logs and stops on the same numbers."""

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            return tf.nest.map_structure(lambda one: self._reduce_one(reduce_op, one, axis), value)

        def _reduce_one(self, reduce_op, value, axis):
            scalar = self.experimental_local_results(value)[0].shape.rank == 0
            return super().reduce(reduce_op, value, None if scalar else axis)

    return MultiWorkerMirroredStrategy()


def _split_cpu(devices: list[str]) -> None:
    """Several CPU devices named: make that many logical CPUs (before TensorFlow starts)."""
    import tensorflow as tf
    cpus = [device for device in devices if "cpu" in device.lower()]
    if len(cpus) > 1:
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * len(cpus))


@contextmanager
def strategy_scope(name: str, devices: list[str] | None = None):
    """Everything built inside (model, optimizer, metrics) is placed by the strategy."""
    strategy = make_strategy(name, devices)
    if strategy is None:
        yield None
        return
    print(f"strategy {name}: {strategy.num_replicas_in_sync} replicas")
    with strategy.scope():
        yield strategy


def multi_replica() -> bool:
    """Whether a model built now trains on several replicas at once."""
    import tensorflow as tf
    return tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1
