"""Data-parallel training with tf.distribute: ``train.py --strategy mirrored``.

``mirrored``: one machine, a replica per GPU (every GPU, or the devices named); naming several
``/cpu:N`` splits the CPU into that many logical devices (how the tests and CI run it).
``multi-worker``: MultiWorkerMirroredStrategy, one ``train.py`` process per machine, each told
the cluster and its own place in it by ``TF_CONFIG`` (README, "Scale out").
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
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}: one of {', '.join(STRATEGIES)}")


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
