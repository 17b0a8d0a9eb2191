"""Principal component analysis on torch, scikit-learn style.

``PCA(n_components).fit(X)`` is one-mode Tucker after centring: a truncated
SVD (:func:`shared.lowrank.svd.svd`) of the centred data.  ``partial_fit``
fits data streamed in chunks by accumulating the exact mean and centred
scatter matrix (Chan et al.'s pairwise update, in float64/complex128), so the
result does not depend on how the data were chunked and equals a batch fit
up to round-off; memory ``O(d^2)``, one ``d x d`` ``eigh`` per call.
"""

from __future__ import annotations

import inspect

import torch

from shared.errors import BadInput
from shared.lowrank._utils import eigh, rank_from_energy, real_dtype
from shared.lowrank.svd import METHODS as SVD_METHODS
from shared.lowrank.svd import svd


def _is_fraction(nc) -> bool:
    # A float in (0, 1] is a variance fraction; 1.0 is "all the variance", not
    # one component (scikit-learn rejects 1.0; an int 1 still means one component).
    return isinstance(nc, float) and 0.0 < nc <= 1.0


class PCA:
    """Principal component analysis (torch, any device, real or complex).

    Parameters
    ----------
    n_components : int, float or None
        ``int``: number of components; ``float`` in (0, 1]: smallest number of
        components explaining that fraction of the variance (``1.0``: all the
        variance, i.e. every component above round-off; scikit-learn rejects
        ``1.0``, here it is the fraction, never one component, which is the
        ``int`` ``1``); ``None``: all ``min(n_samples, n_features)``.
    method : {"auto", "full", "gram", "randomized"}
        SVD solver for :meth:`fit` (see :func:`shared.lowrank.svd.svd`).  A
        fractional ``n_components`` needs the whole spectrum, so
        ``randomized`` is only used with an integer ``n_components``.
    whiten : bool
        Scale the transformed components to unit variance.
    oversample, power_iters : int
        Parameters of the randomized solver.
    seed : int, torch.Generator or None
        Randomness of the randomized solver.

    Attributes
    ----------
    components_ : torch.Tensor
        ``(n_components_, n_features)``, orthonormal rows; the entry of
        largest magnitude of each row is real positive.
    explained_variance_ : torch.Tensor
        ``(n_components_,)``, variance along each component (``ddof=1``), in
        squared data units.
    explained_variance_ratio_ : torch.Tensor
        ``(n_components_,)``, fraction of the total variance.
    singular_values_ : torch.Tensor
        ``(n_components_,)``, singular values of the centred data.
    mean_ : torch.Tensor
        ``(n_features,)``.
    n_components_, n_features_in_, n_samples_seen_ : int
    noise_variance_ : float
        Mean variance of the discarded directions (probabilistic PCA).
    """

    def __init__(
        self,
        n_components: int | float | None = None,
        method: str = "auto",
        whiten: bool = False,
        oversample: int = 10,
        power_iters: int = 4,
        seed: int | torch.Generator | None = 0,
    ):
        self.n_components = n_components
        self.method = method
        self.whiten = whiten
        self.oversample = oversample
        self.power_iters = power_iters
        self.seed = seed

    # --------------------------------------------------- sklearn conventions
    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in inspect.signature(type(self).__init__).parameters if name != "self"}

    def set_params(self, **params) -> "PCA":
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise BadInput(key, f"unknown PCA parameter; expected one of {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"PCA({args})"

    # ----------------------------------------------------------- validation
    def _check_X(self, X, fitted: bool = False) -> torch.Tensor:
        if not isinstance(X, torch.Tensor):
            raise BadInput("X", f"expected a torch.Tensor, got {type(X).__name__}")
        if X.ndim != 2:
            raise BadInput("X", f"expected shape (n_samples, n_features), got {tuple(X.shape)}")
        if not (X.dtype.is_floating_point or X.dtype.is_complex) or X.dtype in (torch.float16, torch.bfloat16):
            raise BadInput("X", f"dtype {X.dtype} is not supported; use float32/64 or complex64/128")
        if fitted and X.shape[1] != self.n_features_in_:
            raise BadInput("X", f"has {X.shape[1]} features, the PCA was fitted on {self.n_features_in_}")
        return X

    def _n_keep(self, var: torch.Tensor, n_max: int) -> int:
        """Number of components from ``n_components`` and the variance spectrum ``var``."""
        nc = self.n_components
        if nc is None:
            return n_max
        if _is_fraction(nc):
            return min(rank_from_energy(var, float(nc)), n_max)
        if isinstance(nc, bool) or int(nc) != nc or not 1 <= int(nc) <= n_max:
            raise BadInput("n_components", f"n_components={nc!r} must be an int in [1, {n_max}] or a float in (0, 1]")
        return int(nc)

    # ------------------------------------------------------------------ fit
    def fit(self, X: torch.Tensor, y=None) -> "PCA":
        """Fit on ``X`` of shape ``(n_samples, n_features)``; returns ``self``."""
        X = self._check_X(X)
        n, d = X.shape
        if n < 2:
            raise BadInput("X", "PCA needs at least 2 samples")
        if self.method not in SVD_METHODS:
            raise BadInput("method", f"unknown method {self.method!r}; expected one of {', '.join(SVD_METHODS)}")
        n_max = min(n, d)
        for attr in ("_n", "_mean", "_scatter"):  # a batch fit starts partial_fit afresh
            self.__dict__.pop(attr, None)
        self.mean_ = X.mean(0)
        Xc = X - self.mean_
        total_var = torch.linalg.vector_norm(Xc) ** 2 / (n - 1)
        if self.n_components is None or _is_fraction(self.n_components):
            method = "full" if self.method in ("auto", "randomized") else self.method
            U, S, Vh = svd(Xc, None, method=method)
            k = self._n_keep(S**2 / (n - 1), n_max)
        else:
            k = self._n_keep(None, n_max)
            U, S, Vh = svd(Xc, k, method=self.method, oversample=self.oversample, power_iters=self.power_iters, seed=self.seed)
        self._set_from_spectrum(S[:k], Vh[:k], S**2 / (n - 1), total_var, n, d)
        self.n_samples_seen_ = n
        return self

    def _set_from_spectrum(self, S, Vh, all_var, total_var, n, d) -> None:
        # Sign convention on the components: largest-magnitude entry real positive.
        idx = Vh.abs().argmax(dim=1, keepdim=True)
        pivot = torch.gather(Vh, 1, idx)
        phase = pivot / pivot.abs().clamp_min(torch.finfo(real_dtype(Vh.dtype)).tiny)
        self.components_ = Vh * phase.conj()
        k = Vh.shape[0]
        self.singular_values_ = S
        self.explained_variance_ = S**2 / (n - 1)
        self.explained_variance_ratio_ = self.explained_variance_ / total_var
        self.n_components_ = k
        self.n_features_in_ = d
        n_max = min(n, d)
        if k < n_max:
            rest = (total_var - self.explained_variance_.sum()).clamp_min(0)
            self.noise_variance_ = float(rest / (n_max - k))
        else:
            self.noise_variance_ = 0.0

    def partial_fit(self, X: torch.Tensor, y=None) -> "PCA":
        """Update the fit with a chunk ``X`` of shape ``(n_chunk, n_features)``; returns ``self``.

        Exact: the mean and centred scatter of all chunks seen so far are
        accumulated in double precision and the components are the leading
        eigenvectors of the covariance.  Attributes keep ``X``'s dtype.
        """
        X = self._check_X(X, fitted=hasattr(self, "_scatter"))
        acc = torch.complex128 if X.is_complex() else torch.float64
        Xa = X.to(acc)
        nb = X.shape[0]
        if nb == 0:
            return self
        mean_b = Xa.mean(0)
        Xc = Xa - mean_b
        scatter_b = Xc.mT @ Xc.conj()  # (d, d), = Xc^H Xc transposed-conjugated: Hermitian
        if not hasattr(self, "_scatter"):
            self._n, self._mean, self._scatter = nb, mean_b, scatter_b
        else:
            na = self._n
            n = na + nb
            delta = mean_b - self._mean
            self._scatter = self._scatter + scatter_b + torch.outer(delta, delta.conj()) * (na * nb / n)
            self._mean = self._mean + delta * (nb / n)
            self._n = n
        n, d = self._n, X.shape[1]
        self.n_samples_seen_ = n
        self.mean_ = self._mean.to(X.dtype)
        if n < 2:
            return self
        # _scatter[i, j] = sum x_i conj(x_j); its conjugate is the usual X^H X.
        C = self._scatter.conj() / (n - 1)
        evals, evecs = eigh(C)
        var = evals.flip(0).clamp_min(0)
        V = evecs.flip(1)
        n_max = min(n, d)
        k = self._n_keep(var[:n_max], n_max)
        S = torch.sqrt(var[:k] * (n - 1))
        total_var = var.sum()
        rd = real_dtype(X.dtype)
        self._set_from_spectrum(S.to(rd), V[:, :k].mH.to(X.dtype), var, total_var.to(rd), n, d)
        return self

    def to(self, device: torch.device | str) -> "PCA":
        """Move every fitted tensor (components, mean, spectrum, ``partial_fit`` state) to ``device``; returns ``self``.

        All of them, not only what :meth:`transform` reads: a model saved after
        ``to("cpu")`` must load on a machine without the training device, and
        whitening or a later ``partial_fit`` reads the rest.
        """
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device))
        return self

    # ------------------------------------------------------------ transform
    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise BadInput("PCA", "not fitted yet: call fit or partial_fit first")

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Project ``X`` ``(n, n_features)`` onto the components: ``(n, n_components_)``."""
        self._check_fitted()
        X = self._check_X(X, fitted=True)
        Z = (X - self.mean_) @ self.components_.mH
        if self.whiten:
            Z = Z / torch.sqrt(self.explained_variance_).clamp_min(torch.finfo(self.explained_variance_.dtype).tiny)
        return Z

    def fit_transform(self, X: torch.Tensor, y=None) -> torch.Tensor:
        """``fit(X).transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: torch.Tensor) -> torch.Tensor:
        """Map ``(n, n_components_)`` scores back to ``(n, n_features)`` data space."""
        self._check_fitted()
        if Z.ndim != 2 or Z.shape[1] != self.n_components_:
            raise BadInput("Z", f"expected shape (n, {self.n_components_}), got {tuple(Z.shape)}")
        if self.whiten:
            Z = Z * torch.sqrt(self.explained_variance_)
        return Z @ self.components_ + self.mean_
