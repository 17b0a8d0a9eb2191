"""The operator, the SENSE operator and training stay on the GPU (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_operator_forward_backward_and_fft_on_cuda():
    from domains.mri.data import prepare, stack
    from domains.mri.embedded import coil_maps
    from domains.mri.fft import fft2c
    from domains.mri.masks import make_mask
    from domains.mri.model import NOVarNet
    from domains.mri.operators import sense_adjoint, sense_forward

    dev = torch.device("cuda")
    sens = coil_maps(4, (64, 64)).to(dev)
    img = torch.rand(64, 64, device=dev).to(torch.complex64)
    k = fft2c(sens * img)
    assert k.device.type == "cuda"
    b = stack([prepare(k, make_mask(f, (64, 64), 4), img.abs()) for f in ("random", "radial")])
    assert b.y.device.type == "cuda" and b.sens.device.type == "cuda"
    x = torch.randn(2, 64, 64, dtype=torch.complex64, device=dev)
    y = torch.randn(2, 4, 64, 64, dtype=torch.complex64, device=dev)
    lhs = torch.sum(sense_forward(x, b.sens, b.mask) * y.conj())
    rhs = torch.sum(x * sense_adjoint(y, b.sens, b.mask).conj())
    assert torch.allclose(lhs, rhs, rtol=1e-4)
    m = NOVarNet(cascades=2, chans=8, pools=2).to(dev)
    out = m(b.y, b.mask, b.sens)
    out.mean().backward()
    assert out.device.type == "cuda" and all(p.grad is not None and p.grad.device.type == "cuda"
                                            for p in m.parameters() if p.requires_grad)
