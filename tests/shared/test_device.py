"""--device names: a CUDA index beyond the machine's devices is a bad input, not a later crash."""

from __future__ import annotations

import pytest
import torch

from shared.device import resolve
from shared.errors import BadInput


def test_cuda_index_is_checked_against_the_device_count(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a 1-GPU machine, simulated
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve("cuda:0") == torch.device("cuda:0") and resolve("cuda") == torch.device("cuda")
    with pytest.raises(BadInput, match="cuda:0 to cuda:0"):
        resolve("cuda:7")
    with pytest.raises(BadInput, match="unknown device"):
        resolve("cuda:x")


def test_cuda_without_a_gpu_and_unknown_names(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BadInput, match="no CUDA device"):
        resolve("cuda:0")
    with pytest.raises(BadInput, match="unknown device"):
        resolve("tpu")
    assert resolve("auto") == torch.device("cpu")
