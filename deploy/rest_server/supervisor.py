"""--processes N: fork N server processes on the shared sockets, and keep N running.

A child that dies (a crash, an out-of-memory kill, kill -9) is logged with how it died and
replaced. On SIGTERM or SIGINT the parent closes its copies of the listening sockets (so that
once the children have closed theirs, new connections are refused, not left in a backlog that
nobody reads), passes the signal on, and waits for the children to finish what they serve.
Exit status: 0 when every child stopped cleanly, 1 otherwise or when children die too fast to
be worth restarting (MAX_RESTARTS within RESTART_WINDOW_S).
"""
from __future__ import annotations

import logging
import os
import signal
import time
from collections import deque
from typing import Callable

log = logging.getLogger("glasses.server")

MAX_RESTARTS = 5  # child deaths within RESTART_WINDOW_S that make the parent give up
RESTART_WINDOW_S = 60.0


def describe_exit(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


class Supervisor:
    """``child()`` is what each forked process runs; its return value is the child's exit status.
    ``ended(pid)`` is told of each child that is gone (its shared metrics are then put to rest)."""

    def __init__(self, child: Callable[[], int], processes: int, sockets: list,
                 ended: Callable[[int], None] = lambda pid: None):
        self.child, self.processes, self.sockets, self.ended = child, processes, sockets, ended
        self.children: set[int] = set()
        self.stopping, self.failed = False, False
        self._deaths: deque[float] = deque(maxlen=MAX_RESTARTS)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for _ in range(self.processes):
            self._start()
        while self.children:
            pid, status = os.wait()  # a signal handled meanwhile runs, and the wait resumes (PEP 475)
            self.children.discard(pid)
            self.ended(pid)
            self._child_ended(pid, status)
        log.info("every server process stopped; exit status %d", 1 if self.failed else 0)
        return 1 if self.failed else 0

    def _start(self) -> None:
        pid = os.fork()
        if pid == 0:  # the child: its own signal handling, and never back into the parent's code
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os._exit(self.child())
        self.children.add(pid)

    def _child_ended(self, pid: int, status: int) -> None:
        clean = os.waitstatus_to_exitcode(status) == 0
        if self.stopping:
            self.failed |= not clean
            return
        log.error("server process %d %s; starting another", pid, describe_exit(status))
        self._deaths.append(time.monotonic())
        if len(self._deaths) == MAX_RESTARTS and self._deaths[-1] - self._deaths[0] < RESTART_WINDOW_S:
            log.error("%d server processes died within %gs: stopping", MAX_RESTARTS, RESTART_WINDOW_S)
            self.failed = True
            self._stop(signal.SIGTERM, None)
            return
        self._start()

    def _stop(self, signum, frame) -> None:
        """The signal handler (``frame`` None: the parent itself gives up)."""
        if not self.stopping:
            why = f"{signal.Signals(signum).name} received: " if frame is not None else ""
            log.info("%sstopping %d server process(es)", why, len(self.children))
        self.stopping = True
        for sock in self.sockets:
            sock.close()
        for pid in list(self.children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:  # already exited; os.wait() collects it
                pass
