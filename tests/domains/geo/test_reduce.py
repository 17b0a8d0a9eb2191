"""The fitted methods encode in ``reduce.infer_batch`` chunks, with the same codes."""

from __future__ import annotations

import torch

from domains.geo.config import ReduceConfig
from domains.geo.io import CLEAR, VALID
from domains.geo.reduce import FittedMethod, fit_methods


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
