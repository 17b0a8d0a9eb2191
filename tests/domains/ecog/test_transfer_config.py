"""Transfer with the core's adapters, and the sectioned config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from domains.ecog.config import PROFILES, EcogConfig
from domains.ecog.models import LSTMCNN, fit, log_input
from domains.ecog.preprocess import preprocess, task_arrays
from domains.ecog.steps import SPEC
from domains.ecog.transfer import adapt_once, adaptation_split
from shared.errors import BadInput
from shared.lowrank.adapters import LoRA, FLoRA
from domains.ecog.config import ModelConfig

CFG = ModelConfig(conv_filters=[8, 8], lstm_hidden=8, dense=[8, 8], adapt_epochs=5, adapter_rank=2)


def test_adapters_train_only_low_rank_factors_and_keep_the_pretrained_weights(strong):
    a = task_arrays({k: preprocess(r, epoch_s=1.5) for k, r in strong.raws.items()}, "hand_vs_tongue")
    X = log_input(a["env"], "cpu")
    torch.manual_seed(0)
    pre = LSTMCNN(X.shape[1], X.shape[2], 2, filters=(8, 8), hidden=8, dense=(8, 8))
    fit(pre, (X - X.mean()) / X.std(), torch.as_tensor(a["y"]), np.arange(len(X)), None, epochs=2, patience=2,
        lr=1e-2, weight_decay=0.0, batch_size=8, seed=0)
    before = {k: v.clone() for k, v in pre.state_dict().items()}
    adapt, test = adaptation_split(a["y"], 10, seed=0)
    assert len(adapt) == 20 and not set(adapt) & set(test)
    out = adapt_once(pre, a["env"], a["y"], adapt, test, CFG)
    n_full = sum(p.numel() for p in pre.parameters())
    assert out["finetune"]["trainable_params"] == out["scratch"]["trainable_params"] == n_full
    assert 0 < out["flora"]["trainable_params"] < out["lora"]["trainable_params"] < n_full / 3
    for k, v in pre.state_dict().items():  # adaptation works on copies
        torch.testing.assert_close(v, before[k])
    assert set(out) == {"naive", "scratch", "finetune", "lora", "flora"}


def test_adapter_types_come_from_the_core():
    import copy

    from shared.lowrank.adapters import apply_adapters
    from domains.ecog.transfer import ADAPTED_LAYERS

    net = LSTMCNN(6, 20, 2, filters=(4, 4), hidden=4, dense=(4, 4))
    lora = apply_adapters(copy.deepcopy(net), "lora", 2, target=ADAPTED_LAYERS)
    assert isinstance(lora.conv.conv1, LoRA) and isinstance(lora.head.fc2, LoRA)
    flora = apply_adapters(copy.deepcopy(net), "flora", 2, target=ADAPTED_LAYERS)
    assert isinstance(flora.conv.conv2, FLoRA)
    assert not any(p.requires_grad for p in lora.lstm.parameters())  # LSTM frozen


def test_profiles_validate_and_differ_only_in_sizes():
    quick, full = SPEC.resolve_config("quick"), SPEC.resolve_config("full")
    assert quick.ingest.n_participants == 4 and full.ingest.n_participants == 7
    assert quick.reduce.n_neighbors == full.reduce.n_neighbors == 15 and quick.reduce.knn_k == 4
    assert set(PROFILES["quick"]) == set(PROFILES["full"]) <= set(EcogConfig.model_fields)


def test_every_field_is_described_and_unknown_keys_are_named():
    for top, section in EcogConfig.model_fields.items():
        assert section.description, top
        sub = section.annotation
        for name, f in getattr(sub, "model_fields", {}).items():
            assert f.description, f"{sub.__name__}.{name}"
    with pytest.raises(BadInput, match="model.lstm_units"):
        SPEC.resolve_config("quick", ["model.lstm_units=3"])


def test_adapters_also_retrain_the_output_layer_at_the_adaptation_rate(monkeypatch):
    """LoRA / FLoRA train their factors plus the (tiny) 2-way output layer, at ``adapt_lr``; scratch and
    full fine-tuning train every weight at ``lr`` (module docstring of domains.ecog.transfer)."""
    import copy

    from domains.ecog import models
    from domains.ecog.transfer import ADAPTED_LAYERS
    from shared.lowrank.adapters import apply_adapters, count_trainable

    rng = np.random.default_rng(0)
    env = rng.uniform(0.5, 2.0, (12, 6, 20))
    y = np.tile([0, 1], 6)
    pre = LSTMCNN(6, 20, 2, filters=(8, 8), hidden=8, dense=(8, 8))
    cfg = CFG.model_copy(update={"adapt_epochs": 1, "lr": 1e-3, "adapt_lr": 5e-2})
    seen = {}
    orig = models.fit

    def spy(net, *a, lr, **k):
        seen[len(seen)] = (lr, count_trainable(net))
        return orig(net, *a, lr=lr, **k)

    monkeypatch.setattr(models, "fit", spy)
    out = adapt_once(pre, env, y, np.arange(6), np.arange(6, 12), cfg)
    # fit calls in METHODS order, naive excluded: scratch, finetune, lora, flora
    assert [lr for lr, _ in seen.values()] == [1e-3, 1e-3, 5e-2, 5e-2]
    for i, kind in ((2, "lora"), (3, "flora")):
        ref = apply_adapters(copy.deepcopy(pre), kind, cfg.adapter_rank, target=ADAPTED_LAYERS)
        n_out = sum(p.numel() for p in ref.head.out.parameters())
        assert not any(p.requires_grad for p in ref.head.out.parameters())  # frozen by the core ...
        assert seen[i][1] == out[kind]["trainable_params"] == count_trainable(ref) + n_out  # ... trained here
