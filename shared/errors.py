"""Errors that the CLI maps to exit codes.

`BadInput` is the one exception every layer raises for a user's mistake: a
missing file or key, a wrong shape or dtype, NaNs, an unknown config key. The
CLI prints ``str(err)`` as one line and exits with code 2; anything else is an
internal error (exit code 1).
"""

from __future__ import annotations


class BadInput(ValueError):
    """A user-facing input or configuration error (CLI exit code 2).

    Parameters
    ----------
    where : str
        The file, dataset or field at fault, e.g. ``"data.h5:/csi"`` or
        ``"config.ranks"``.
    message : str
        What is wrong with it, in one short sentence.
    """

    def __init__(self, where: str, message: str):
        self.where = str(where)
        self.message = str(message)
        super().__init__(f"{self.where}: {self.message}")

    def __str__(self) -> str:  # one line, always
        return f"{self.where}: {self.message}".replace("\n", " ")
