"""Tucker decompositions: truncated HOSVD, HOOI and a streamed (blocked) HOSVD.

A Tucker model ``X ~= G x_1 U_1 x_2 U_2 ... x_N U_N`` is held by
:class:`TuckerTensor` (``core`` ``G`` of shape ``(R_1, ..., R_N)``, factors
``U_n`` of shape ``(I_n, R_n)`` with orthonormal columns).  Unfoldings follow
TensorLy's C-order convention.  Every function keeps the input's device and
dtype, real or complex.

References
----------
L. De Lathauwer, B. De Moor, J. Vandewalle, "A multilinear singular value
decomposition", SIAM J. Matrix Anal. Appl. 21(4):1253-1278, 2000 (HOSVD), and
"On the best rank-1 and rank-(R1,...,RN) approximation of higher-order
tensors", ibid. 21(4):1324-1342, 2000 (HOOI).
N. Vannieuwenhoven, R. Vandebril, K. Meerbergen, "A new truncation strategy
for the higher-order singular value decomposition", SIAM J. Sci. Comput.
34(2):A1027-A1052, 2012 (sequentially truncated HOSVD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from shared.errors import BadInput
from shared.lowrank._utils import (
    check_rank,
    multi_mode_dot,
    mode_dot,
    rank_from_energy,
    tensorly_pytorch,
    unfold,
    unfolding_gram,
)
from shared.lowrank.svd import choose_method, left_singular_from_gram, svd

__all__ = ["TuckerTensor", "Tucker", "hosvd", "hooi", "hosvd_streamed", "cp", "CPTensor"]


@dataclass(eq=False)
class TuckerTensor:
    """A Tucker model: ``core`` times one factor per mode.

    Parameters
    ----------
    core : torch.Tensor
        Shape ``(R_1, ..., R_N)``.
    factors : list of torch.Tensor
        ``factors[n]`` has shape ``(I_n, R_n)``.
    """

    core: torch.Tensor
    factors: list[torch.Tensor] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.factors = list(self.factors)
        if self.core.ndim != len(self.factors):
            raise BadInput("factors", f"core has {self.core.ndim} modes but {len(self.factors)} factors were given")
        for n, U in enumerate(self.factors):
            if U.ndim != 2 or U.shape[1] != self.core.shape[n]:
                raise BadInput(
                    "factors", f"factor {n} has shape {tuple(U.shape)}, expected (I_{n}, {self.core.shape[n]})"
                )

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape ``(I_1, ..., I_N)`` of the full tensor."""
        return tuple(int(U.shape[0]) for U in self.factors)

    @property
    def rank(self) -> tuple[int, ...]:
        """Multilinear rank ``(R_1, ..., R_N)``."""
        return tuple(int(r) for r in self.core.shape)

    @property
    def dtype(self) -> torch.dtype:
        return self.core.dtype

    @property
    def device(self) -> torch.device:
        return self.core.device

    @property
    def n_params(self) -> int:
        """Stored entries: ``prod(R) + sum(I_n R_n)`` (a complex entry counts once)."""
        return int(self.core.numel() + sum(U.numel() for U in self.factors))

    @property
    def compression_ratio(self) -> float:
        """Dense entries over stored entries, ``prod(I) / n_params``."""
        return math.prod(self.shape) / self.n_params

    # ------------------------------------------------------------- numerics
    def to_tensor(self) -> torch.Tensor:
        """The full tensor ``G x_1 U_1 ... x_N U_N``, shape ``(I_1, ..., I_N)``."""
        return multi_mode_dot(self.core, self.factors)

    def rel_error(self, X: torch.Tensor) -> float:
        """Relative Frobenius error ``||X - X_hat|| / ||X||``."""
        if tuple(X.shape) != self.shape:
            raise BadInput("X", f"shape {tuple(X.shape)} does not match the Tucker shape {self.shape}")
        X = X.to(self.device)
        num = torch.linalg.vector_norm(X - self.to_tensor().to(X.dtype))
        den = torch.linalg.vector_norm(X)
        return float((num / den).item()) if den > 0 else float(num.item())

    def to(self, *args, **kwargs) -> "TuckerTensor":
        """Move/cast core and factors like ``torch.Tensor.to``."""
        return TuckerTensor(self.core.to(*args, **kwargs), [U.to(*args, **kwargs) for U in self.factors])

    # ------------------------------------------------------------- tensorly
    def to_tensorly(self):
        """A ``tensorly.tucker_tensor.TuckerTensor`` sharing the same tensors."""
        from tensorly.tucker_tensor import TuckerTensor as TLTucker

        with tensorly_pytorch():
            return TLTucker((self.core, list(self.factors)))

    @classmethod
    def from_tensorly(cls, tucker) -> "TuckerTensor":
        """Build from a TensorLy Tucker tensor or a ``(core, factors)`` pair."""
        core, factors = tucker
        return cls(torch.as_tensor(core), [torch.as_tensor(U) for U in factors])

    # ----------------------------------------------------------------- HDF5
    def save_h5(self, target, name: str = "tucker", unit: str = "1") -> None:
        """Write to HDF5 group ``name`` under ``target`` (an h5py group/file or a path).

        Layout: ``<name>/core`` and ``<name>/factors/<n>``, attributes ``kind``,
        ``shape`` and ``rank``.  Every dataset carries a ``unit`` attribute (the
        results.h5 convention): the core has the unit of the decomposed tensor
        (``unit``), the factors have orthonormal columns and are
        dimensionless (``"1"``).  Complex tensors are stored natively (h5py's
        compound ``r``/``i`` type).  An existing group ``name`` is replaced.

        Parameters
        ----------
        target : h5py.File, h5py.Group, str or Path
        name : str
            Group name.
        unit : str
            Unit of the decomposed tensor's entries (``"1"`` for dimensionless).
        """
        import h5py

        from shared.runs import write_array

        if isinstance(target, (str, Path)):
            with h5py.File(target, "a") as f:
                self.save_h5(f, name, unit)
            return
        if name in target:
            del target[name]
        grp = target.create_group(name)
        grp.attrs["kind"] = "tucker"
        grp.attrs["shape"] = list(self.shape)
        grp.attrs["rank"] = list(self.rank)
        write_array(grp, "core", self.core, unit=unit)
        fac = grp.create_group("factors")
        for n, U in enumerate(self.factors):
            write_array(fac, str(n), U, unit="1")

    @classmethod
    def load_h5(cls, source, name: str = "tucker", device: torch.device | str = "cpu") -> "TuckerTensor":
        """Read a model written by :meth:`save_h5` onto ``device``."""
        import h5py

        if isinstance(source, (str, Path)):
            if not Path(source).exists():
                raise BadInput(str(source), "file does not exist")
            with h5py.File(source, "r") as f:
                return cls.load_h5(f, name, device)
        if name not in source or source[name].attrs.get("kind") != "tucker":
            raise BadInput(f"{getattr(source, 'name', source)}/{name}", "no Tucker model stored here")
        grp = source[name]
        core = torch.from_numpy(grp["core"][()]).to(device)
        n_modes = len(grp["factors"])
        factors = [torch.from_numpy(grp["factors"][str(n)][()]).to(device) for n in range(n_modes)]
        return cls(core, factors)


# ---------------------------------------------------------------------------
# rank handling


def _check_tensor(X, where: str = "X") -> None:
    if not isinstance(X, torch.Tensor):
        raise BadInput(where, f"expected a torch.Tensor, got {type(X).__name__}")
    if X.ndim < 2:
        raise BadInput(where, f"expected at least 2 modes, got shape {tuple(X.shape)}")
    if not (X.dtype.is_floating_point or X.dtype.is_complex) or X.dtype in (torch.float16, torch.bfloat16):
        raise BadInput(where, f"dtype {X.dtype} is not supported; use float32/64 or complex64/128")


def _normalize_ranks(ranks, shape: Sequence[int], energy) -> list[int | None]:
    """Per-mode ranks (``None`` = decided by ``energy`` or the full mode size)."""
    if energy is not None and not (0.0 < float(energy) <= 1.0):
        raise BadInput("energy", f"energy must be in (0, 1], got {energy}")
    if ranks is None:
        return [None] * len(shape)
    if isinstance(ranks, int) and not isinstance(ranks, bool):
        ranks = [ranks] * len(shape)
    ranks = list(ranks)
    if len(ranks) != len(shape):
        raise BadInput("ranks", f"expected {len(shape)} ranks, one per mode, got {len(ranks)}")
    return [None if r is None else check_rank(r, shape[n], "ranks", f"mode {n}") for n, r in enumerate(ranks)]


def _pick_rank(cap: int | None, size: int, sq_values: torch.Tensor | None, energy) -> int:
    """Rank of one mode: ``cap`` (or the mode size), lowered by ``energy`` if given."""
    r = size if cap is None else cap
    if energy is not None and sq_values is not None:
        r = min(r, rank_from_energy(sq_values, energy))
    return r


def _mode_factor(X: torch.Tensor, n: int, cap: int | None, energy, method: str, seed) -> torch.Tensor:
    """Leading left singular vectors of the mode-``n`` unfolding of ``X``, shape ``(I_n, R_n)``."""
    size = X.shape[n]
    other = X.numel() // size
    if method == "auto":
        if energy is not None:
            method = "gram" if size <= other else "full"
        else:
            r0 = size if cap is None else cap
            method = choose_method(size, other, r0, device=X.device)
    if method == "randomized" and energy is not None:
        raise BadInput("method", "energy-based ranks need the whole spectrum: use method 'auto', 'gram' or 'full'")
    if method == "gram" and size <= other:
        # I_n x I_n Gram straight from the tensor (no unfolding copy for the
        # outer modes); its eigenvalues are the squared singular values.
        U_all, S2 = left_singular_from_gram(unfolding_gram(X, n), size)
        r = _pick_rank(cap, size, S2, energy)
        return U_all[:, :r]
    A = unfold(X, n)
    if energy is None:
        U, _, _ = svd(A, size if cap is None else cap, method=method, seed=seed)
        return U
    U, S, _ = svd(A, None, method=method)
    r = _pick_rank(cap, size, S**2, energy)
    return U[:, :r]


# ---------------------------------------------------------------------------
# decompositions


def hosvd(
    X: torch.Tensor,
    ranks: Sequence[int] | int | None = None,
    energy: float | None = None,
    method: str = "auto",
    sequential: bool = False,
    order: Sequence[int] | None = None,
    seed: int | torch.Generator | None = None,
) -> TuckerTensor:
    """Truncated higher-order SVD.

    Parameters
    ----------
    X : torch.Tensor
        Shape ``(I_1, ..., I_N)``, ``N >= 2``, real or complex.
    ranks : sequence of int, int or None
        Rank per mode (an ``int`` applies to every mode).  With ``energy`` the
        ranks are upper bounds; ``None`` means the mode sizes.
    energy : float in (0, 1], optional
        Plain HOSVD: per mode, keep the smallest rank whose squared singular
        values reach this fraction of the mode's total (``||X||^2``), so
        ``rel_err^2 <= N (1 - energy)``.  Sequential: every mode may discard
        ``(1 - energy) ||X||^2 / N`` (Vannieuwenhoven et al.'s criterion), so
        ``rel_err^2 <= 1 - energy``; these ranks are larger than the plain
        ones for the same ``energy``.  Fractions are resolved to the dtype's
        round-off (see :func:`shared.lowrank._utils.rank_from_energy`).
    method : {"auto", "gram", "full", "randomized"}
        SVD solver of every unfolding (see :func:`shared.lowrank.svd.svd`).
        ``auto`` uses the eigendecomposition of the small ``I_n x I_n`` Gram
        for the usual wide unfoldings.
    sequential : bool
        Sequentially truncated HOSVD: project ``X`` onto each factor as soon
        as it is known, so later unfoldings are smaller.  At given ranks the
        error bound of the plain HOSVD holds (``rel_err^2`` at most the sum
        of the per-mode discarded fractions); fewer flops; different factors
        for all but the first mode.  With ``energy`` see above.
    order : sequence of int, optional
        Mode order of the sequential variant (default ``0, 1, ..., N-1``).
    seed : int, torch.Generator or None
        Randomness of the ``randomized`` solver.

    Returns
    -------
    TuckerTensor
        Core of shape ``(R_1, ..., R_N)``, factors ``(I_n, R_n)`` with
        orthonormal columns, device and dtype of ``X``.

    Raises
    ------
    BadInput
        When ``ranks`` has the wrong length or a rank exceeds its mode.
    """
    _check_tensor(X)
    caps = _normalize_ranks(ranks, X.shape, energy)
    if not sequential:
        factors = [_mode_factor(X, n, caps[n], energy, method, seed) for n in range(X.ndim)]
        core = multi_mode_dot(X, factors, conj_transpose=True)
        return TuckerTensor(core, factors)
    order = _check_order(order, X.ndim)
    factors: list[torch.Tensor | None] = [None] * X.ndim
    # Vannieuwenhoven et al.'s criterion: the error of the sequentially
    # truncated HOSVD is exactly the sum of what each step discards, so each
    # mode may discard (1 - energy) ||X||^2 / N, measured against ||X||^2 (not
    # against the already-truncated tensor), and rel_err^2 <= 1 - energy.
    budget = None if energy is None else (1.0 - float(energy)) * _sq_norm(X) / X.ndim
    Y = X
    for n in order:
        mode_energy = None
        if budget is not None:
            y2 = _sq_norm(Y)
            # Fraction of ||Y||^2 to keep; <= 0 (budget larger than Y) keeps one direction.
            mode_energy = min(1.0, max(1.0 - budget / y2, 1e-300)) if y2 > 0 else 1.0
        U = _mode_factor(Y, n, caps[n], mode_energy, method, seed)
        factors[n] = U
        Y = mode_dot(Y, U.mH, n)
    return TuckerTensor(Y, factors)


def _check_order(order, ndim: int) -> list[int]:
    if order is None:
        return list(range(ndim))
    order = [int(o) for o in order]
    if sorted(order) != list(range(ndim)):
        raise BadInput("order", f"expected a permutation of 0..{ndim - 1}, got {order}")
    return order


def _sq_norm(X: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(X.to(torch.complex128 if X.dtype.is_complex else torch.float64)) ** 2)


def hooi(
    X: torch.Tensor,
    ranks: Sequence[int] | int | None = None,
    n_iter: int = 25,
    tol: float | None = None,
    energy: float | None = None,
    method: str = "auto",
    init: TuckerTensor | None = None,
    return_errors: bool = False,
):
    """Higher-order orthogonal iteration (Tucker ALS), initialised by HOSVD.

    Parameters
    ----------
    X : torch.Tensor
        Shape ``(I_1, ..., I_N)``.
    ranks, energy, method
        As in :func:`hosvd` (used for the initialisation; the ranks it picks
        are then fixed).
    n_iter : int
        Maximum number of sweeps over the modes.
    tol : float, optional
        Stop when the relative error changes by less than ``tol`` in a sweep.
        Default ``1000 * eps`` of the dtype (about ``1e-4`` in float32, where
        the error itself is only resolved to a few ``1e-6``; ``2e-13`` in
        float64).
    init : TuckerTensor, optional
        Starting point instead of the HOSVD.
    return_errors : bool
        Also return the relative error after every sweep.

    Returns
    -------
    TuckerTensor, or (TuckerTensor, list of float) with ``return_errors``.

    Notes
    -----
    With orthonormal factors the error is ``sqrt(||X||^2 - ||G||^2) / ||X||``,
    so a sweep costs only the mode products (evaluated in float64).
    """
    _check_tensor(X)
    if tol is None:
        tol = 1000 * torch.finfo(X.dtype).eps
    tucker = init if init is not None else hosvd(X, ranks, energy=energy, method=method)
    factors = list(tucker.factors)
    norm2 = _sq_norm(X)
    core = tucker.core
    errors = [math.sqrt(max(norm2 - _sq_norm(core), 0.0) / norm2) if norm2 > 0 else 0.0]
    for _ in range(n_iter):
        for n in range(X.ndim):
            Y = multi_mode_dot(X, [None if m == n else U for m, U in enumerate(factors)], conj_transpose=True)
            factors[n] = _mode_factor(Y, n, factors[n].shape[1], None, "auto" if method == "randomized" else method, None)
        core = mode_dot(Y, factors[-1].mH, X.ndim - 1)
        errors.append(math.sqrt(max(norm2 - _sq_norm(core), 0.0) / norm2) if norm2 > 0 else 0.0)
        if abs(errors[-2] - errors[-1]) < tol:
            break
    out = TuckerTensor(core, factors)
    return (out, errors) if return_errors else out


def hosvd_streamed(
    dataset,
    ranks: Sequence[int] | int | None = None,
    axis: int = 0,
    block: int = 64,
    energy: float | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
) -> TuckerTensor:
    """HOSVD of a tensor too large for memory along one mode, read block by block.

    Two passes over ``dataset``, each reading every block of ``block`` slices
    along ``axis`` exactly once:

    1. accumulate the ``I_n x I_n`` Gram of every other mode (the sum of the
       blocks' Grams is the exact Gram), and take its leading eigenvectors:
       these factors equal those of :func:`hosvd`;
    2. project every block onto those factors and stack the projections into
       ``Y`` of shape ``I_axis x prod(R_n)`` (small: the size of the output);
       the factor of ``axis`` is the leading left singular subspace of
       ``Y``'s unfolding and the core is ``Y x_axis U_axis^H``.

    The non-streamed factors equal those of ``hosvd(X, ranks)``.  The
    streamed factor is then the *optimal* one given the others (one HOOI
    update of that mode), so the error is never larger than the in-memory
    HOSVD's (the core is ``Y x_axis U_axis^H`` and its norm is maximal over
    ``U_axis``).  Memory: one block plus ``I_axis * prod(R_n)`` entries.

    Why two passes: the projection of pass 2 needs the factors, which depend
    on every block, so an exact HOSVD cannot read each block only once
    without keeping the blocks; a one-pass method would be a randomized
    sketch (Sun, Guo, Luo, Tropp, Udell 2020), approximate rather than exact.

    Parameters
    ----------
    dataset : h5py.Dataset, numpy array or torch.Tensor
        Anything with ``.shape``, ``.ndim`` and slicing; real or complex.
    ranks, energy
        As in :func:`hosvd`.
    axis : int
        The streamed (large) mode.
    block : int
        Slices per block along ``axis``.
    device : torch.device or str
        Where the blocks are processed and the result lives.
    dtype : torch.dtype, optional
        Compute dtype (default: the dataset's).

    Returns
    -------
    TuckerTensor
    """
    shape = tuple(int(s) for s in dataset.shape)
    ndim = len(shape)
    if ndim < 2:
        raise BadInput("dataset", f"expected at least 2 modes, got shape {shape}")
    if not -ndim <= axis < ndim:
        raise BadInput("axis", f"axis {axis} out of range for {ndim} modes")
    axis %= ndim
    if int(block) < 1:
        raise BadInput("block", f"block must be at least 1, got {block}")
    caps = _normalize_ranks(ranks, shape, energy)
    others = [n for n in range(ndim) if n != axis]

    def blocks():
        for start in range(0, shape[axis], block):
            idx = [slice(None)] * ndim
            idx[axis] = slice(start, min(start + block, shape[axis]))
            B = torch.as_tensor(dataset[tuple(idx)])
            yield B.to(device=device, dtype=dtype or B.dtype).contiguous()

    # Pass 1: exact Grams of the non-streamed modes.
    grams: dict[int, torch.Tensor] = {}
    for B in blocks():
        _check_tensor(B, "dataset")
        for n in others:
            G = unfolding_gram(B, n)
            grams[n] = G if n not in grams else grams[n].add_(G)
    factors: list[torch.Tensor | None] = [None] * ndim
    for n in others:
        U_all, S2 = left_singular_from_gram(grams[n], shape[n])
        factors[n] = U_all[:, : _pick_rank(caps[n], shape[n], S2, energy)]
    del grams

    # Pass 2: project each block on the non-streamed factors.
    proj = [None if n == axis else factors[n] for n in range(ndim)]
    Y = torch.cat([multi_mode_dot(B, proj, conj_transpose=True) for B in blocks()], dim=axis)
    U = _mode_factor(Y, axis, caps[axis], energy, "auto", None)
    factors[axis] = U
    return TuckerTensor(mode_dot(Y, U.mH, axis), factors)


class Tucker:
    """Estimator wrapper of :func:`hosvd` / :func:`hooi` (TensorLy-style function + class pair).

    Parameters
    ----------
    ranks, energy, method
        As in :func:`hosvd`.
    n_iter : int
        ``0`` gives the truncated HOSVD; more runs that many HOOI sweeps.
    tol : float, optional
        HOOI stopping tolerance.

    Attributes
    ----------
    decomposition_ : TuckerTensor
        The fitted model.
    rank_ : tuple of int
        The multilinear rank chosen.
    """

    def __init__(self, ranks=None, energy: float | None = None, method: str = "auto", n_iter: int = 0, tol: float | None = None):
        self.ranks = ranks
        self.energy = energy
        self.method = method
        self.n_iter = n_iter
        self.tol = tol

    def fit(self, X: torch.Tensor, y=None) -> "Tucker":
        """Decompose ``X`` of shape ``(I_1, ..., I_N)``; returns ``self``."""
        if self.n_iter > 0:
            self.decomposition_ = hooi(X, self.ranks, n_iter=self.n_iter, tol=self.tol, energy=self.energy, method=self.method)
        else:
            self.decomposition_ = hosvd(X, self.ranks, energy=self.energy, method=self.method)
        self.rank_ = self.decomposition_.rank
        return self

    def fit_transform(self, X: torch.Tensor, y=None) -> TuckerTensor:
        """``fit(X)`` and return the :class:`TuckerTensor`."""
        return self.fit(X).decomposition_

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Core of ``X`` on the fitted factors, ``X x_n U_n^H``: shape ``rank_``."""
        if not hasattr(self, "decomposition_"):
            raise BadInput("Tucker", "not fitted yet: call fit first")
        if tuple(X.shape) != self.decomposition_.shape:
            raise BadInput("X", f"shape {tuple(X.shape)} does not match the fitted shape {self.decomposition_.shape}")
        return multi_mode_dot(X, self.decomposition_.factors, conj_transpose=True)

    def inverse_transform(self, core: torch.Tensor) -> torch.Tensor:
        """Full tensor from a core of shape ``rank_`` and the fitted factors."""
        if not hasattr(self, "decomposition_"):
            raise BadInput("Tucker", "not fitted yet: call fit first")
        return TuckerTensor(core, self.decomposition_.factors).to_tensor()


from shared.lowrank.cp import CPTensor, cp  # noqa: E402  (re-export: Tucker and CP live side by side)
