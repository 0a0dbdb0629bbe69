"""Typed errors raised by the core; front ends turn them into exit codes or HTTP statuses."""


class GlassesError(Exception):
    """Base class of every error the core raises on purpose."""


class ImageLoadError(GlassesError):
    """The input is not an image we can decode (names the input and the reason)."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class ImageTooLargeError(ImageLoadError):
    """The image is over a limit on what decoding it may cost (pixels, side, scans, ...):
    refused from its header, before any pixel is decoded (a server answers 413)."""


class ModelError(GlassesError):
    """A model file or its metadata is missing or unusable."""


class ConfigError(GlassesError):
    """A configuration has an unknown key, a wrong type or a bad value."""


def errors_exit_2(main):
    """For a command's ``main(argv)``: a GlassesError (which says what is wrong) becomes one
    ``error: ...`` line on stderr and exit status 2, not a traceback; otherwise main's own exit
    status when it returns an int, else 0 (a main that returns its results to other callers)."""
    import functools
    import sys

    @functools.wraps(main)
    def checked(*args, **kwargs) -> int:
        try:
            status = main(*args, **kwargs)
            return status if isinstance(status, int) else 0
        except GlassesError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return checked
