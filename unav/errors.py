"""User-facing errors: the CLI prints their message (no traceback) and exits with status 2."""


class UnavError(Exception):
    """A problem with the user's input or files; the message names the video, file and expectation."""
