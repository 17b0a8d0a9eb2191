"""Simulator: model, SNR definition, seeding and batching."""


import pytest
import torch

from domains.isac.scenarios import get_scenario
from domains.isac.simulate import generate, noise_variance, simulate_tensor, synthesize, vandermonde

MU = torch.tensor([[0.3, -0.2, 0.05], [1.2, -0.5, -0.45]], dtype=torch.float64)
B = torch.tensor([1.0 + 0.0j, 0.6j], dtype=torch.complex128)
SHAPE = (4, 6, 5)


def test_noiseless_tensor_is_the_harmonic_model():
    y = simulate_tensor(MU, B, SHAPE, None)
    assert y.shape == (1, *SHAPE) and y.dtype == torch.complex128
    n1, n2, n3 = 2, 3, 4
    want = sum(B[k] * torch.exp(1j * (MU[k, 0] * n1 + MU[k, 1] * n2 + MU[k, 2] * n3)) for k in range(2))
    assert abs(complex(y[0, n1, n2, n3]) - complex(want)) < 1e-13
    torch.testing.assert_close(y[0], synthesize(MU, B, SHAPE))


def test_vandermonde_columns():
    a = vandermonde(torch.tensor([0.0, 0.5], dtype=torch.float64), 3)
    torch.testing.assert_close(a[:, 1], torch.exp(1j * 0.5 * torch.arange(3, dtype=torch.float64)))


def test_snr_definition_and_seeding():
    snr = 7.0
    y = simulate_tensor(MU, B, (8, 32, 28), snr, n_trials=4, seed=3)
    clean = synthesize(MU, B, (8, 32, 28))
    noise = y - clean
    sigma2 = float((B.abs() ** 2).mean()) / 10 ** (snr / 10)
    assert noise_variance(B, snr) == pytest.approx(sigma2)
    assert float((noise.abs() ** 2).mean()) == pytest.approx(sigma2, rel=0.03)
    # circular: real and imaginary parts carry half the power each
    assert float((noise.real ** 2).mean()) == pytest.approx(sigma2 / 2, rel=0.05)
    torch.testing.assert_close(y, simulate_tensor(MU, B, (8, 32, 28), snr, n_trials=4, seed=3))
    assert not torch.equal(y, simulate_tensor(MU, B, (8, 32, 28), snr, n_trials=4, seed=4))
    # the trials are independent draws
    assert not torch.equal(noise[0], noise[1])


def test_per_trial_frequencies_and_dtype():
    mu = torch.stack([MU, MU + 0.1])
    b = torch.stack([B, B])
    y = simulate_tensor(mu, b, SHAPE, None, n_trials=2, dtype=torch.complex64)
    assert y.dtype == torch.complex64
    torch.testing.assert_close(y[1], synthesize(MU + 0.1, B, SHAPE).to(torch.complex64))


def test_generator_of_the_embedded_dataset():
    d = generate("close", snr_db=20.0, n_trials=2, seed=1)
    s = get_scenario("close")
    assert d.csi.shape == (2, *s.shape)
    assert d.noise_var == pytest.approx(noise_variance(s.gains, 20.0))
    assert d.truth.name == "close" and d.source == "simulated:close"
    assert generate("default", snr_db=None).noise_var == 0.0
