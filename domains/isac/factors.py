"""The compression spec's check (method, per-mode factors against a shape): no torch.

Shared by PLAIN's compression stage (:mod:`domains.isac.plain.compress`,
which re-exports it) and the CLI's check before Prefect
(:mod:`domains.isac.checks`), which must not import torch.
"""

from __future__ import annotations

from shared.errors import BadInput

__all__ = ["METHODS", "check_factors"]

METHODS = ("none", "decimation", "averaging")


def check_factors(shape, method: str, factors, n_targets: int | None = None) -> tuple[int, int, int]:
    """Validate a compression spec against a tensor shape.

    Raises
    ------
    BadInput
        Unknown method, a factor below 1, or a factor that leaves mode m with
        fewer than ``n_targets + 1`` samples (a subspace method needs at least
        one noise dimension to resolve ``n_targets`` frequencies), or with
        fewer than 2 samples when ``n_targets`` is unknown.
    """
    if method not in METHODS:
        raise BadInput("compression.method", f"unknown method {method!r}; use one of {list(METHODS)}")
    if method == "none":
        return (1, 1, 1)
    try:
        factors = tuple(int(f) for f in factors)
    except TypeError:
        raise BadInput("compression.factors", f"need three integers, got {factors!r}") from None
    if len(factors) != 3 or any(f < 1 for f in factors):
        raise BadInput("compression.factors", f"need three integers >= 1, got {list(factors)}")
    need = 2 if n_targets is None else n_targets + 1
    for m, (n, f) in enumerate(zip(shape, factors)):
        kept = -(-n // f) if method == "decimation" else n // f
        if kept < need:
            what = f"the number of targets ({n_targets}) + 1" if n_targets is not None else "2"
            raise BadInput(f"compression.factors[{m}]",
                           f"factor {f} leaves mode {m} with {kept} of {n} samples, "
                           f"fewer than {what}")
    return factors
