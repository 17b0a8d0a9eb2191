"""The deep models, their training and the adapters follow the input's device (run where a GPU is present)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from domains.ecog.config import ModelConfig
from domains.ecog.cv import make_folds
from domains.ecog.decode import deep_cv
from domains.ecog.models import LSTMCNN, fit, log_input
from domains.ecog.preprocess import preprocess, task_arrays
from domains.ecog.transfer import adapt_once, adaptation_split

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

CFG = ModelConfig(conv_filters=[16, 16], lstm_hidden=16, dense=[16, 8], max_epochs=60, patience=15,
                  adapt_epochs=30)


@pytest.fixture(scope="module")
def task(strong):
    a = task_arrays({k: preprocess(r, epoch_s=1.5) for k, r in strong.raws.items()}, "hand_vs_tongue")
    a["folds"] = make_folds(a["y"], 5, 0)
    return a


def test_lstm_cnn_trains_on_cuda_and_decodes(task):
    r = deep_cv("lstm_cnn", task["env"], task["y"], task["folds"], CFG, device="cuda")
    assert r["accuracy"] > 0.8


def test_model_and_adapters_stay_on_cuda(task):
    X = log_input(task["env"], "cuda")
    y = torch.as_tensor(task["y"], device="cuda")
    net = LSTMCNN(X.shape[1], X.shape[2], 2, filters=(16, 16), hidden=16, dense=(16, 8)).cuda()
    fit(net, (X - X.mean()) / X.std(), y, np.arange(len(y)), None, epochs=3, patience=3, lr=1e-2,
        weight_decay=0.0, batch_size=8, seed=0)
    assert net(X[:2]).device.type == "cuda"
    adapt, test = adaptation_split(task["y"], 10, 0)
    out = adapt_once(net, task["env"], task["y"], adapt, test, CFG, device="cuda", methods=("lora", "flora"))
    assert set(out) == {"lora", "flora"} and all(0 <= v["accuracy"] <= 1 for v in out.values())
