"""fastMRI writer/reader round-trip, MONAI interoperability and the header check (issue 11, tests)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from domains.mri.embedded import slice_positions, split_positions, write_split, mni_volume
from domains.mri.io import check_file, read_fastmri, write_fastmri
from shared.errors import BadInput


def _k(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_multicoil_round_trip_with_mask_and_header(tmp_path):
    k = _k((3, 4, 20, 16))
    t = np.abs(k).sum(1).astype(np.float32)[:, 2:18, :]
    mask = np.zeros(16, bool)
    mask[::4] = True
    p = write_fastmri(tmp_path / "v.h5", k, t, mask=mask, acceleration=4.0, num_low_frequency=2,
                      attrs={"acquisition": "CORPD_FBK"})
    v = read_fastmri(p)
    assert v.multicoil and v.kspace.dtype == torch.complex64
    assert np.array_equal(v.kspace.numpy(), k) and np.array_equal(v.target.numpy(), t)
    assert v.mask.shape == (20, 16) and bool((v.mask[:, ::4]).all()) and int(v.mask.sum()) == 20 * 4
    assert v.attrs["acquisition"] == "CORPD_FBK" and v.attrs["max"] == pytest.approx(float(t.max()))
    assert v.header["encoded"] == (20, 16) and v.header["recon"] == (16, 16)
    assert v.header["padding"] == (0, 16)
    with h5py.File(p) as fh:
        assert fh["mask"].attrs["acceleration"] == 4.0 and fh["mask"].attrs["num_low_frequency"] == 2


def test_singlecoil_round_trip_gets_a_coil_axis(tmp_path):
    k = _k((2, 8, 8))
    p = write_fastmri(tmp_path / "s.h5", k, np.abs(k), multicoil=False, esc=True)
    v = read_fastmri(p)
    assert not v.multicoil and v.kspace.shape == (2, 1, 8, 8)
    with h5py.File(p) as fh:
        assert "reconstruction_esc" in fh


def test_monai_fastmri_reader_reads_our_files(tmp_path):
    from monai.apps.reconstruction.fastmri_reader import FastMRIReader

    k = _k((2, 3, 12, 10))
    p = write_fastmri(tmp_path / "m.h5", k, np.abs(k).sum(1))
    data = FastMRIReader().read(str(p))
    arr, meta = FastMRIReader().get_data(data)
    assert np.allclose(np.asarray(arr), k)
    assert float(meta["max"]) == pytest.approx(float(np.abs(k).sum(1).max()), rel=1e-6)


def test_embedded_default_split_and_file(tmp_path):
    vol = mni_volume("t1")
    pos = slice_positions(vol)
    sp = split_positions(pos, block=6)
    a, b, c = (set(sp[n]) for n in ("train", "val", "test"))
    assert not (a & b or a & c or b & c)
    # no slice of one split is the neighbour of a slice of another
    for s1, s2 in ((a, b), (a, c), (b, c)):
        assert min(abs(x - y) for x in s1 for y in s2) >= 2
    p = write_split(tmp_path / "t.h5", sp["test"][:2], 32, 4, seed=0)
    v = read_fastmri(p)
    assert v.kspace.shape == (2, 4, 32, 32) and v.target.shape == (2, 32, 32)
    from domains.mri.fft import ifft2c, rss

    # target = RSS of the fully sampled coil images, up to the simulated noise
    err = (rss(ifft2c(v.kspace)) - v.target).norm() / v.target.norm()
    assert float(err) < 0.05


def test_check_file_names_the_problem(tmp_path):
    k = _k((2, 3, 8, 8))
    with pytest.raises(BadInput, match="kspace"):
        with h5py.File(tmp_path / "a.h5", "w") as fh:
            fh.create_dataset("other", data=np.zeros(3))
        check_file(tmp_path / "a.h5")
    with pytest.raises(BadInput, match="complex"):
        write_fastmri(tmp_path / "b.h5", np.abs(k))
        check_file(tmp_path / "b.h5")
    with pytest.raises(BadInput, match="mask"):
        write_fastmri(tmp_path / "c.h5", k, mask=np.ones(7, bool))
        check_file(tmp_path / "c.h5")
    with pytest.raises(BadInput, match="acceleration"):
        write_fastmri(tmp_path / "d.h5", k, mask=np.ones(8, bool), acceleration=0.5)
        check_file(tmp_path / "d.h5")
    with pytest.raises(BadInput, match="samples nothing"):
        check_file(write_fastmri(tmp_path / "zero.h5", k, mask=np.zeros(8, bool)))
    with pytest.raises(BadInput, match="slices=2"):  # a target for another number of slices
        check_file(write_fastmri(tmp_path / "slices.h5", k, np.ones((3, 8, 8), np.float32)))
    bad = k.copy()
    bad[1, 2, 3, 4] = np.nan
    with pytest.raises(BadInput, match="NaN"):
        read_fastmri(write_fastmri(tmp_path / "nan.h5", bad))
    with pytest.raises(BadInput, match="H, W >= 8"):
        check_file(write_fastmri(tmp_path / "small.h5", _k((2, 3, 4, 8))))
    for i, tshape in enumerate([(2, 9, 8), (2, 8, 9)]):  # a target taller or wider than k-space
        with pytest.raises(BadInput, match="larger than k-space"):
            check_file(write_fastmri(tmp_path / f"t{i}.h5", k, np.ones(tshape, np.float32)))
    assert check_file(write_fastmri(tmp_path / "ok.h5", k))["shape"] == (2, 3, 8, 8)


def test_simulated_noise_is_complex_gaussian_with_the_stated_std():
    """``noise`` is the std of each complex k-space sample (E|n|^2 = (noise * max target)^2, i.e.
    noise / sqrt(2) per real part); the noise is drawn last, so two seeds-equal slices differ by it only."""
    from domains.mri.embedded import simulate_slice

    vol = mni_volume("t1")
    z = slice_positions(vol)[len(slice_positions(vol)) // 2]
    k0, t0 = simulate_slice(vol[:, :, z], 32, 4, seed=3, noise=0.0)
    k1, t1 = simulate_slice(vol[:, :, z], 32, 4, seed=3, noise=0.01)
    assert torch.equal(t0, t1)
    n = (k1 - k0).to(torch.complex128) / (0.01 * float(t0.max()))
    assert float((n.abs() ** 2).mean()) == pytest.approx(1.0, rel=0.08)  # 4096 samples: ~2 % sampling error
    assert float(n.real.std()) == pytest.approx(2 ** -0.5, rel=0.08)
