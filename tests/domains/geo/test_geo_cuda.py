"""Encoders and k-means follow the input's device (run where a GPU is present)."""

from __future__ import annotations

import pytest
import torch

from domains.geo.autoencoders import StackedAE
from shared.cluster import KMeans

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_stacked_ae_and_kmeans_stay_on_cuda():
    g = torch.Generator().manual_seed(0)
    centres = torch.rand(4, 7, generator=g)
    y = torch.randint(0, 4, (20000,), generator=g)
    X = (centres[y] + 0.01 * torch.randn(20000, 7, generator=g)).clamp(0, 1).cuda()
    sae = StackedAE(7).cuda()
    sae.fit(X, [3, 2, 2], [1024, 1024, 1024], seed=0)
    z = sae.encode(X)
    assert z.device.type == "cuda" and z.shape == (20000, 2)
    km = KMeans(4, n_init=2, seed=0).fit(X)
    assert km.cluster_centers_.device.type == "cuda"
    lab = km.predict(X)
    # the four blobs are found: every centre lies near a true centre
    d = torch.cdist(km.cluster_centers_.cpu(), centres).min(1).values
    assert float(d.max()) < 0.05 and lab.device.type == "cuda"
