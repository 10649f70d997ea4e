"""User-facing errors. Each carries a one-line message naming the cause and the fix.

The CLIs catch `UserError`, print `error: <message>` and exit with status 2 (bad input) or 3 (training stopped),
so a script driving tfssl can tell a typo from a diverged run.
"""


class UserError(Exception):
    """Bad input or an unusable environment; `str(error)` is one line: cause and fix."""

    exit_code = 2


class DataError(UserError):
    """Unknown dataset or split, missing manual files, unreadable image."""


class ModelDirError(UserError):
    """model_dir cannot be created or written (permissions, full disk)."""


class NonFiniteLossError(UserError):
    """A loss became NaN or Inf: training stopped and the last good checkpoint was kept."""

    exit_code = 3
