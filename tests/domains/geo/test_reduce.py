"""The fitted methods encode in ``reduce.infer_batch`` chunks, with the same codes."""

from __future__ import annotations

import torch

from domains.geo.config import ReduceConfig
from domains.geo.io import CLEAR, VALID
from domains.geo.reduce import FittedMethod, Scaler, fit_methods


def test_codes_are_encoded_in_infer_batch_chunks(monkeypatch):
    g = torch.Generator().manual_seed(0)
    rho = 0.05 + 0.4 * torch.rand(5000, 6, generator=g, dtype=torch.float64)
    flags = torch.full((5000,), VALID | CLEAR, dtype=torch.uint8)
    cfg = ReduceConfig(methods=["raw", "pca", "improved"], infer_batch=1024, improved_ndvi_max=None)
    ms = fit_methods(rho, flags, rho.min(0).values, rho.max(0).values, cfg, None, seed=0)
    assert {m.infer_batch for m in ms.values()} == {1024}
    whole = {k: m._codes(rho) for k, m in ms.items()}
    calls = []
    inner = FittedMethod._codes
    monkeypatch.setattr(FittedMethod, "_codes", lambda self, x: calls.append(x.shape[0]) or inner(self, x))
    for k, m in ms.items():
        calls.clear()
        torch.testing.assert_close(m.codes(rho), whole[k])
        assert calls == [1024] * 4 + [904], k


def test_improved_mode_without_spectral_variance_samples_uniformly():
    # one band: its log-ratios are all 0, the leverage scores 0/0 = NaN (torch.multinomial raised)
    from domains.geo.reduce import _fit_improved, training_rows

    g = torch.Generator().manual_seed(0)
    sample = torch.rand(300, 1, generator=g) * 0.5 + 0.1
    flags = torch.full((300,), VALID | CLEAR, dtype=torch.uint8)
    cfg = ReduceConfig(improved_leverage_pixels=200)
    fit = _fit_improved(sample, flags, cfg, None, 0, 1)
    assert fit.info["sampling"] == "uniform" and fit.info["train_pixels"] == 200
    assert torch.isfinite(fit.codes(sample)).all()
    idx, how = training_rows(torch.rand(300, 4, generator=g), 200, 0.5, 0)  # spectra that vary: leverage
    assert how == "leverage" and len(set(idx.tolist())) == 200


def test_fitted_pca_moves_whole():
    """``FittedMethod.to`` moves the whole PCA (its spectrum too), so a saved model holds no device tensor."""
    from shared.lowrank import PCA

    g = torch.Generator().manual_seed(0)
    X = torch.rand(200, 7, generator=g, dtype=torch.float64)
    fm = FittedMethod("pca", Scaler(torch.zeros(7), torch.ones(7)), PCA(n_components=2).fit(X), False)
    fm.to("meta")
    left = [k for k, v in vars(fm.encoder).items() if isinstance(v, torch.Tensor) and v.device.type != "meta"]
    assert left == [] and fm.scaler.lo.device.type == "meta"
