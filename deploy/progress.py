"""The folder runner's progress bar on stderr: tqdm when it is installed, else a plain one."""
from __future__ import annotations

import sys


class TextBar:
    """A one-line progress bar for environments without tqdm (the light one has none)."""

    def __init__(self, total: int, enabled: bool, stream=sys.stderr):
        self.total, self.enabled, self.stream, self.done = total, enabled, stream, 0

    def update(self, n: int) -> None:
        self.done += n
        self._draw()

    def write(self, message: str, file=None) -> None:
        print(("\r\033[K" if self.enabled else "") + message, file=file or self.stream)
        self._draw()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")

    def _draw(self) -> None:
        if self.enabled and self.total:
            filled = 30 * self.done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} photos")
            self.stream.flush()


def progress_bar(total: int, enabled: bool):
    """tqdm when it is installed, else TextBar; both have update(), write() and close()."""
    try:
        from tqdm import tqdm
    except ImportError:
        return TextBar(total, enabled)
    return tqdm(total=total, disable=not enabled, unit="photo", file=sys.stderr, dynamic_ncols=True)
