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


def test_scaler_maps_lo_hi_to_0_1_and_clips_when_asked():
    lo, hi = torch.tensor([0.1, 0.0]), torch.tensor([0.5, 2.0])
    X = torch.tensor([[0.1, 0.0], [0.3, 1.0], [0.5, 2.0], [0.9, -1.0]])
    torch.testing.assert_close(Scaler(lo, hi)(X), torch.tensor([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0], [2.0, -0.5]]))
    Z = Scaler(lo, hi, clip=True)(X)  # a pixel beyond the sample's extremes stays in [0, 1]
    torch.testing.assert_close(Z, torch.tensor([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0], [1.0, 0.0]]))


def test_ndvi_of_vegetation_and_bare_soil():
    """(NIR - red) / (NIR + red): green vegetation (red 0.04, NIR 0.45) ~0.84; bare soil (0.30, 0.33) ~0.05."""
    from domains.geo.reduce import ndvi

    rho = torch.tensor([[0.05, 0.04, 0.45], [0.25, 0.30, 0.33]])  # bands: blue, red, NIR
    v = ndvi(rho, (1, 2))
    torch.testing.assert_close(v, torch.tensor([0.41 / 0.49, 0.03 / 0.63]))
    assert v[0] > 0.5 and abs(v[1]) < 0.1
    fm = FittedMethod("improved", Scaler(torch.zeros(3), torch.ones(3)), None, True, ndvi_max=0.3, red_nir=(1, 2))
    flags = torch.full((2,), VALID | CLEAR, dtype=torch.uint8)
    assert fm.keep(rho, flags).tolist() == [False, True]  # the vegetated pixel is masked
