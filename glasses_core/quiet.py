"""Keep third-party chatter off stderr: the tools print their own output and nothing else.

TensorFlow, absl, coremltools and LiteRT write start-up and progress notes straight to file
descriptor 2 from C++ (LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
ignores TF_CPP_MIN_LOG_LEVEL and has no setting of its own), so no logging setting reaches
them all: ``quiet()`` points descriptor 2 at a temporary file for the duration of a block.
``GLASSES_VERBOSE=1`` (what the tools' ``--verbose`` sets) lets everything through.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
from contextlib import contextmanager

from .errors import GlassesError

VERBOSE_ENV = "GLASSES_VERBOSE"
_redirecting = threading.RLock()  # descriptor 2 is the process's: one thread redirects at a time (nested blocks in it may)


def verbose() -> bool:
    """Whether third-party output is wanted (``GLASSES_VERBOSE`` set and not "0")."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def set_verbose(on: bool) -> None:
    """Let third-party output through in this process and the processes it starts."""
    if on:
        os.environ[VERBOSE_ENV] = "1"


@contextmanager
def quiet(keep=lambda line: False):
    """Hide what the block writes to stderr, but the lines ``keep`` accepts; when the block
    raises anything but a GlassesError (which explains itself), everything it wrote is passed
    on, to explain the failure. Threads writing to stderr meanwhile are delayed (their lines
    pass through ``keep`` too), never lost."""
    if verbose():
        yield
        return
    with _redirecting, tempfile.TemporaryFile() as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        except GlassesError:
            failed = False
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            lines = log.read().decode("utf-8", "replace").splitlines(keepends=True)
            passed = "".join(line for line in lines if failed or keep(line))
            os.write(2, passed.encode("utf-8", "replace"))  # to descriptor 2: an outer block's file
