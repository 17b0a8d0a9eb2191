"""Device resolution and seeding.

Torch is imported lazily so that ``lowdim --help`` stays fast.
"""

from __future__ import annotations

from shared.errors import BadInput

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve(name: str = "auto"):
    """Return the ``torch.device`` a run should use.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"} or a torch device string such as ``"cuda:1"``
        ``auto`` gives cuda when available, else cpu.

    Returns
    -------
    torch.device

    Raises
    ------
    BadInput
        When cuda is requested and none is available, or the name is unknown.
    """
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BadInput("--device", f"'{name}' requested but no CUDA device is available")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise BadInput("--device", f"unknown device '{name}' (use auto, cpu, cuda or cuda:N)") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BadInput("--device", f"'{name}': this machine has {torch.cuda.device_count()} CUDA device(s), "
                                       f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
        return dev
    if name == "cpu":
        return torch.device("cpu")
    raise BadInput("--device", f"unknown device '{name}' (use auto, cpu or cuda)")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) for a reproducible step."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
