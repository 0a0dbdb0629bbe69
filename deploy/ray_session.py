"""Connect to Ray for the project's tools: a cluster, or a local instance started here."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def ray_session(address: str | None = None, cpus: int | None = None):
    """Yields the number of CPUs Ray offers. Uses Ray as it is when it is already started (a
    test, a notebook); connects to ``address`` (or RAY_ADDRESS, as set inside `ray job submit`)
    when given; else starts a local instance of ``cpus`` CPUs (default: all) and stops it after.
    A local instance's workers import this checkout (PYTHONPATH); on a cluster, `ray job submit
    --working-dir .` ships it."""
    import ray
    started = not ray.is_initialized()
    if started:
        address = address or os.environ.get("RAY_ADDRESS")
        local = {} if address else {
            "num_cpus": cpus, "include_dashboard": False,
            "runtime_env": {"env_vars": {"PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}}}
        ray.init(address=address, logging_level="warning", **local)
    try:
        yield int(ray.cluster_resources().get("CPU", 1))
    finally:
        if started:
            ray.shutdown()
