"""The per-pixel reductions compared on the same pixels.

=========  ==========================================  ======================================
method     pixels, scaling                             encoder
=========  ==========================================  ======================================
raw        every valid pixel, per-band min-max (paper)  none: k-means on the scaled bands
pca        every valid pixel, min-max                   PCA to ``pca_variance`` (core PCA)
ae         every valid pixel, min-max                   canonical AE, paper schedule
sae        every valid pixel, min-max                   stacked AE, paper schedule
improved   clear (QA/SCL) and NDVI <= t; log band     core PCA to ``pca_variance`` on
           ratios to the pixel's geometric mean,       leverage-sampled pixels (default;
           per-band percentiles (0-100: min-max)       or the stacked / canonical AE with
           mapped to [0, 1]                            large batches)
=========  ==========================================  ======================================

Why log band ratios in the improved mode: topographic illumination scales
every band of a pixel by the same factor (cos incidence), which stretches
each unit into a line through the origin of band space; the first principal
component and the AEs' 2-D code mostly follow that brightness. Ratios cancel
the factor and keep the spectral shape that tells units apart (brief,
section 10: "ratios suppress topographic illumination"; Fe3+, AlOH, CO3
features are ratios in practice).

The paper masks nothing; here fill (nodata) is excluded from every method,
since a product's fill border is not a surface. Encoders are trained on a
pixel sample and applied block by block (:meth:`FittedMethod.codes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from domains.geo.autoencoders import DenseAE, StackedAE, restart_seed, train_ae, train_restarts
from domains.geo.config import ReduceConfig
from domains.geo.io import CLEAR, VALID
from shared.lowrank import PCA, leverage_sample


@dataclass
class Scaler:
    """Per-band affine scaling ``(x - lo) / (hi - lo)``, optionally clipped to [0, 1]."""

    lo: torch.Tensor
    hi: torch.Tensor
    clip: bool = False

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        lo, hi = self.lo.to(X), self.hi.to(X)
        Z = (X - lo) / (hi - lo).clamp_min(1e-12)
        return Z.clamp(0.0, 1.0) if self.clip else Z


def log_ratios(rho: torch.Tensor, floor: float = 1e-3) -> torch.Tensor:
    """Log band ratios to the pixel's geometric mean (centred log-ratio), ``(n, B) -> (n, B)``.

    ``log rho_b - mean_b log rho_b``: a multiplicative factor common to every
    band of a pixel (topographic illumination, cos incidence; an albedo
    scale) cancels exactly, while the spectral shape (absorption features,
    slopes: the unit's mineralogy) is kept. It is the usual band-ratio
    argument (ratios suppress topographic illumination) applied to every
    band at once. Reflectance is floored at ``floor`` (dark or negative
    surface reflectance from atmospheric correction) before the log.
    """
    lg = torch.log(rho.clamp_min(floor))
    return lg - lg.mean(1, keepdim=True)


@dataclass
class FittedMethod:
    """One reduction, fitted: which pixels it keeps, how it scales and encodes them."""

    name: str
    scaler: Scaler
    encoder: Any  # None (raw), PCA, DenseAE or StackedAE
    masked: bool  # False: every valid pixel; True: clear and NDVI <= ndvi_max
    ndvi_max: float | None = None
    red_nir: tuple[int, int] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    features: str = "bands"  # "bands": reflectance; "log_ratio": :func:`log_ratios` before scaling
    infer_batch: int = 1 << 18  # rows per encoder call in :meth:`codes` (``reduce.infer_batch``)

    def keep(self, rho: torch.Tensor, flags: torch.Tensor) -> torch.Tensor:
        """Boolean ``(n,)``: the pixels ``(n, B)`` with ``flags (n,)`` this method labels."""
        ok = (flags & VALID) > 0
        if self.masked:
            ok &= (flags & CLEAR) > 0
            if self.ndvi_max is not None and self.red_nir is not None:
                ok &= ndvi(rho, self.red_nir) <= self.ndvi_max
        return ok & torch.isfinite(rho).all(1)

    @torch.no_grad()
    def codes(self, rho: torch.Tensor) -> torch.Tensor:
        """Codes ``(n, c)`` of reflectance rows ``(n, B)`` (kept pixels only).

        Encoded ``infer_batch`` rows at a time, so the encoder's activations
        stay bounded whatever the window or sample size (every step is row-wise:
        the codes do not depend on the batching).
        """
        b = max(1, int(self.infer_batch))
        if rho.shape[0] <= b:
            return self._codes(rho)
        return torch.cat([self._codes(rho[s:s + b]) for s in range(0, rho.shape[0], b)])

    def _codes(self, rho: torch.Tensor) -> torch.Tensor:
        X = self.scaler(log_ratios(rho) if self.features == "log_ratio" else rho)
        enc = self.encoder
        if enc is None:
            return X
        if isinstance(enc, PCA):
            return enc.transform(X.to(enc.components_.dtype)).to(X.dtype)
        return enc.encode(X.to(next(enc.parameters()).dtype))  # DenseAE or StackedAE

    def to(self, device) -> "FittedMethod":
        enc = self.encoder
        if isinstance(enc, torch.nn.Module):
            enc.to(device)
        elif isinstance(enc, PCA):
            enc.to(device)
        self.scaler = Scaler(self.scaler.lo.to(device), self.scaler.hi.to(device), self.scaler.clip)
        return self


def ndvi(rho: torch.Tensor, red_nir: tuple[int, int]) -> torch.Tensor:
    """(NIR - red) / (NIR + red) of reflectance rows ``(n, B)``."""
    red, nir = rho[:, red_nir[0]], rho[:, red_nir[1]]
    return (nir - red) / (nir + red).clamp_min(1e-6)


def paper_training_rows(sample: torch.Tensor, vmin: torch.Tensor, vmax: torch.Tensor, train_pixels: int,
                        seed: int) -> tuple[torch.Tensor, Scaler]:
    """The paper methods' training rows: ``train_pixels`` rows of ``sample`` ``(n, B)``, min-max scaled.

    Returns the scaled rows ``(m, B)``, ``m = min(n, train_pixels)``, drawn with ``seed``, and the
    scene's min-max :class:`Scaler` (``vmin``, ``vmax``: ``(B,)`` per-band extremes).
    """
    gen = torch.Generator().manual_seed(int(seed))
    n = sample.shape[0]
    take = torch.randperm(n, generator=gen)[: min(n, train_pixels)].to(sample.device)
    minmax = Scaler(vmin.to(sample), vmax.to(sample), clip=False)
    return minmax(sample[take]), minmax


def fit_methods(sample: torch.Tensor, flags: torch.Tensor, vmin: torch.Tensor, vmax: torch.Tensor,
                cfg: ReduceConfig, red_nir: tuple[int, int] | None, seed: int) -> dict[str, FittedMethod]:
    """Fit every method of ``cfg.methods`` on the ingest sample.

    Parameters
    ----------
    sample : torch.Tensor
        ``(n, B)`` reflectance of uniformly sampled valid pixels (device and
        dtype used for training).
    flags : torch.Tensor
        ``(n,)`` uint8 flags of the sample.
    vmin, vmax : torch.Tensor
        ``(B,)`` per-band extremes over all valid pixels of the scene (the
        paper's min-max scaling).
    """
    Xp, minmax = paper_training_rows(sample, vmin, vmax, cfg.train_pixels, seed)
    out: dict[str, FittedMethod] = {}
    D = sample.shape[1]
    for name in cfg.methods:
        if name == "raw":
            out[name] = FittedMethod(name, minmax, None, False)
        elif name == "pca":
            pca = PCA(n_components=cfg.pca_variance).fit(Xp.double())
            out[name] = FittedMethod(name, minmax, pca, False,
                                     info={"n_components": int(pca.n_components_),
                                           "explained_variance": float(pca.explained_variance_ratio_.sum())})
        elif name == "ae":
            ae, h, objs = train_restarts(lambda r: DenseAE([D, 6, 4, cfg.code_dim], seed=restart_seed(seed, r)), Xp,
                                         cfg.epochs[0], cfg.batch_sizes[0], cfg.restarts, lr=cfg.lr, l1=cfg.l1,
                                         seed=seed, desc="canonical AE", min_steps=cfg.min_steps)
            out[name] = FittedMethod(name, minmax, ae, False,
                                     info={"loss": h, **({"restart_objectives": objs} if len(objs) > 1 else {})})
        elif name == "sae":
            sae = StackedAE(D, cfg.code_dim, seed=seed)
            h = sae.fit(Xp, cfg.epochs, cfg.batch_sizes, lr=cfg.lr, l1=cfg.l1, seed=seed, min_steps=cfg.min_steps,
                        restarts=cfg.restarts)
            objs = h.pop("restart_objectives", None)
            out[name] = FittedMethod(name, minmax, sae, False,
                                     info={"loss": h, **({"restart_objectives": objs} if objs else {})})
        elif name == "improved":
            out[name] = _fit_improved(sample, flags, cfg, red_nir, seed, D)
        out[name].infer_batch = cfg.infer_batch
    return out


def training_rows(Z: torch.Tensor, m: int, mix: float, seed: int) -> tuple[torch.Tensor, str]:
    """``m`` distinct rows of the scaled features ``Z`` ``(n, d)`` for the improved mode's training.

    Leverage over the centred features oversamples rare spectra (small
    units), mixed with ``mix`` of uniform. When the centred features carry no
    variance (every row the same spectral shape: one band's log-ratios, a
    constant scene) the core finds no leverage anywhere and draws uniformly.
    The second return value says which: ``"uniform"`` when every row had the
    same probability (equal weights), else ``"leverage"``.
    """
    idx, w = leverage_sample((Z - Z.mean(0)).double(), m, seed=seed, mix=mix, replace=False)
    return idx, "uniform" if bool((w == w[0]).all()) else "leverage"


def _fit_improved(sample, flags, cfg: ReduceConfig, red_nir, seed: int, D: int) -> FittedMethod:
    probe = FittedMethod("improved", Scaler(torch.zeros(D), torch.ones(D)), None, True,
                         cfg.improved_ndvi_max, red_nir)
    ok = probe.keep(sample, flags)
    X = sample[ok]
    if cfg.improved_features == "log_ratio":
        X = log_ratios(X)
    if X.shape[0] < 10:
        from shared.errors import BadInput

        raise BadInput("ingest sample", f"only {X.shape[0]} clear pixels after masking (clouds, NDVI)")
    q = torch.tensor([p / 100 for p in cfg.improved_percentiles], dtype=X.dtype, device=X.device)
    lo, hi = torch.quantile(X, q[0], dim=0), torch.quantile(X, q[1], dim=0)
    scaler = Scaler(lo, hi, clip=True)
    Z = scaler(X)
    m = min(cfg.improved_leverage_pixels, Z.shape[0])
    idx, how = training_rows(Z, m, cfg.improved_leverage_mix, seed)
    Zt = Z[idx.to(Z.device)]
    epochs = [cfg.improved_epochs] * 3
    bs = [cfg.improved_batch] * 3
    info: dict[str, Any] = {"train_pixels": int(m), "clear_share_of_sample": float(ok.float().mean()),
                            "sampling": how}
    kind = cfg.improved_encoder
    if kind == "sae":
        enc = StackedAE(D, cfg.code_dim, seed=seed)
        info["loss"] = enc.fit(Zt, epochs, bs, lr=cfg.lr, l1=cfg.l1, seed=seed)
    elif kind == "ae":
        enc = DenseAE([D, 6, 4, cfg.code_dim], seed=seed)
        info["loss"] = train_ae(enc, Zt, epochs[0], bs[0], lr=cfg.lr, l1=cfg.l1, seed=seed, desc="improved AE")
    else:
        enc = PCA(n_components=cfg.pca_variance).fit(Zt.double())
        info["n_components"] = int(enc.n_components_)
    return FittedMethod("improved", scaler, enc, True, cfg.improved_ndvi_max, red_nir, info,
                        features=cfg.improved_features)
