"""Known answers for shared.lowrank.adapters (LoRA, FLoRA, SVFit, TRP)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from shared.errors import BadInput
from shared.lowrank import (
    FLoRA,
    LoRA,
    SVFit,
    TrainedRankPruning,
    apply_adapters,
    count_trainable,
    merge,
    unmerge,
)
from shared.lowrank.adapters import adapter_layers, adapter_state_dict

KINDS = {"lora": LoRA, "flora": FLoRA, "svfit": SVFit}

# (layer factory, input shape)
LAYERS = {
    "linear": (lambda: nn.Linear(12, 10), (4, 12)),
    "conv1d": (lambda: nn.Conv1d(6, 8, 3, padding=1), (2, 6, 9)),
    "conv2d": (lambda: nn.Conv2d(6, 8, 3, stride=2, padding=1), (2, 6, 9, 9)),
    "conv2d_groups": (lambda: nn.Conv2d(6, 9, 3, padding=1, groups=3), (2, 6, 7, 7)),
    "conv3d": (lambda: nn.Conv3d(4, 6, (3, 1, 3), padding=(1, 0, 1)), (2, 4, 5, 4, 5)),
    "conv2d_reflect": (lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), (2, 3, 6, 6)),
}


def make(layer, kind, rank=2, dtype=torch.float64, **kw):
    torch.manual_seed(0)
    factory, shape = LAYERS[layer]
    base = factory().to(dtype)
    x = torch.randn(shape, dtype=dtype)
    return base, KINDS[kind](base, rank, **kw), x


def perturb(adapter):
    """Give the adapter a non-zero weight change, as training would."""
    with torch.no_grad():
        for p in adapter.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))


@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_zero_init_leaves_output_unchanged(layer, kind):
    base, ad, x = make(layer, kind)
    ref = base(x)
    assert torch.equal(ad(x), ref)
    assert torch.count_nonzero(ad.delta_weight()) == 0


@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_merge_equals_unmerged_forward(layer, kind):
    base, ad, x = make(layer, kind)
    perturb(ad)
    w0 = base.weight.clone()
    unmerged = ad(x)
    assert not torch.allclose(unmerged, base(x))  # the perturbation matters
    ad.merge()
    assert ad.merged
    assert torch.allclose(ad(x), unmerged, atol=1e-10)
    ad.merge()  # idempotent
    assert torch.allclose(ad(x), unmerged, atol=1e-10)
    ad.unmerge()
    assert torch.allclose(base.weight, w0, atol=1e-12)
    assert torch.allclose(ad(x), unmerged, atol=1e-10)


@pytest.mark.parametrize("layer", ["linear", "conv2d_groups"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_delta_is_weight_shaped_branch(layer, kind):
    """The adapter branch equals the base layer run with weight dW and no bias."""
    base, ad, x = make(layer, kind)
    perturb(ad)
    dW = ad.delta_weight()
    assert dW.shape == base.weight.shape
    plain = LAYERS[layer][0]().double()
    with torch.no_grad():
        plain.weight.copy_(base.weight + dW)
        plain.bias.copy_(base.bias)
    assert torch.allclose(ad(x), plain(x), atol=1e-10)


@pytest.mark.parametrize("kind", list(KINDS))
def test_only_adapter_params_get_gradients(kind):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 5 * 5, 4))
    model = apply_adapters(model, kind, rank=2)
    assert all(isinstance(model[i], KINDS[kind]) for i in (0, 3))
    perturb(model[0])
    perturb(model[3])
    model(torch.randn(2, 3, 5, 5)).square().sum().backward()
    for name, p in model.named_parameters():
        is_adapter = ".base." not in f".{name}"
        assert p.requires_grad == is_adapter, name
        if is_adapter:
            assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name
        else:
            assert p.grad is None, name


def test_flora_trainable_count_matches_formula():
    model = nn.Sequential(nn.Conv2d(6, 16, (3, 3), groups=2), nn.Linear(20, 30), nn.Conv3d(2, 4, (1, 3, 3)))
    apply_adapters(model, "flora", rank=[4, 3, 2, 2], target="0")
    apply_adapters(model, "flora", rank=5, target=["1", "2"], freeze_others=True)
    expected = (
        math.prod([4, 3, 2, 2]) + 16 * 4 + 3 * 3 + 3 * 2 + 3 * 2  # conv2d weight (16, 3, 3, 3)
        + 5 * 5 + 30 * 5 + 20 * 5  # linear (30, 20)
        + 4 * 2 * 1 * 3 * 3 + 4 * 4 + 2 * 2 + 1 * 1 + 3 * 3 + 3 * 3  # conv3d (4, 2, 1, 3, 3): ranks clipped
    )
    assert count_trainable(model) == expected
    assert FLoRA.n_trainable_formula((30, 20), (5, 5)) == 5 * 5 + 30 * 5 + 20 * 5


def test_lora_and_svfit_counts():
    lin = nn.Linear(12, 10)
    assert count_trainable(LoRA(lin, 3)) == 3 * (12 + 10)
    conv = nn.Conv2d(6, 9, 3, groups=3)  # weight (9, 2, 3, 3): matrix 9 x 18
    assert count_trainable(LoRA(conv, 4)) == 4 * (9 + 18)
    assert count_trainable(SVFit(nn.Conv2d(6, 9, 3), 5)) == 5


def test_svfit_trains_top_singular_values():
    torch.manual_seed(0)
    lin = nn.Linear(8, 6).double()
    S_full = torch.linalg.svdvals(lin.weight.detach())
    ad = SVFit(lin, 3)
    assert torch.allclose(ad.singular_values, S_full[:3])
    with torch.no_grad():
        ad.delta.copy_(torch.tensor([0.5, -0.1, 0.2], dtype=torch.float64))
    ad.merge()
    S_new = torch.linalg.svdvals(lin.weight)
    expected = torch.sort(torch.cat([S_full[:3] + ad.delta.detach(), S_full[3:]]), descending=True).values
    assert torch.allclose(S_new, expected, atol=1e-10)


def _train(ad: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 200, lr: float = 0.05) -> float:
    # every parameter goes to the optimizer: the frozen base must stay put by itself
    opt = torch.optim.Adam(ad.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = (ad(x) - y).square().mean()
        loss.backward()
        opt.step()
    return float(loss.detach())


def test_lora_learns_a_low_rank_change_with_the_base_frozen(one_thread):
    """Known answer: targets from W + dW* with rank(dW*) = 2; a rank-2 LoRA recovers dW*."""
    torch.manual_seed(0)
    lin = nn.Linear(8, 6).double()
    W0, b0 = lin.weight.detach().clone(), lin.bias.detach().clone()
    dW_true = 0.5 * torch.randn(6, 2, dtype=torch.float64) @ torch.randn(2, 8, dtype=torch.float64)
    x = torch.randn(64, 8, dtype=torch.float64)
    y = x @ (W0 + dW_true).T + b0
    ad = LoRA(lin, 2, alpha=8)
    assert ad.scaling == 4.0
    with torch.no_grad():
        loss0 = float((ad(x) - y).square().mean())
    loss = _train(ad, x, y)
    assert loss < 1e-6 * loss0
    assert torch.equal(lin.weight, W0) and torch.equal(lin.bias, b0)  # frozen: bit for bit
    dW = ad.delta_weight().detach()
    assert torch.linalg.matrix_rank(dW).item() == 2
    assert torch.allclose(dW, dW_true, atol=1e-3)
    unmerged = ad(x).detach()
    ad.merge()
    assert torch.allclose(lin.weight, W0 + dW, atol=1e-12)
    assert torch.allclose(ad(x), unmerged, atol=1e-10)
    ad.unmerge()
    assert torch.allclose(lin.weight, W0, atol=1e-12)


@pytest.mark.parametrize("layer", ["linear", "conv2d_groups", "conv3d"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_trained_adapter_has_its_rank_and_a_frozen_base(one_thread, layer, kind):
    """After training on a random target: rank(dW) is the adapter's rank, the base is untouched."""
    rank = 2
    base, ad, x = make(layer, kind, rank=rank)
    frozen = {k: v.clone() for k, v in base.state_dict().items()}
    y = torch.randn_like(base(x))
    _train(ad, x, y, steps=25)
    assert all(torch.equal(base.state_dict()[k], v) for k, v in frozen.items())
    dW = ad.delta_weight().detach()
    out = dW.shape[0]
    matrix = dW.reshape(out, -1)
    if kind == "flora":
        # a Tucker change: every mode-n unfolding has rank min(r, d_n)
        for n, r in enumerate(ad.ranks):
            unf = torch.movedim(dW, n, 0).reshape(dW.shape[n], -1)
            assert torch.linalg.matrix_rank(unf).item() == r == min(rank, dW.shape[n]), n
    else:
        assert torch.linalg.matrix_rank(matrix).item() == rank
    unmerged = ad(x).detach()
    ad.merge()
    assert torch.allclose(ad(x), unmerged, atol=1e-10)


def test_apply_adapters_targets_and_merge_helpers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Sequential(nn.Linear(6, 6), nn.Linear(6, 3)))
    apply_adapters(model, "lora", 2, target=r"1\.\d")
    assert isinstance(model[0], nn.Linear) and isinstance(model[1][0], LoRA) and isinstance(model[1][1], LoRA)
    assert len(adapter_layers(model)) == 2
    # Adapters are never wrapped again: nothing new to select here.
    with pytest.raises(BadInput):
        apply_adapters(model, "lora", 2, target=lambda name, mod: name.startswith("1"))
    apply_adapters(model, "flora", 2, target="0")
    assert len(adapter_layers(model)) == 3 and isinstance(model[1][0].base, nn.Linear)
    assert all(p.requires_grad for a in adapter_layers(model) for n, p in a.named_parameters() if "base" not in n)
    for ad in adapter_layers(model):
        perturb(ad)
    x = torch.randn(2, 4)
    y = model(x)
    merge(model)
    assert all(a.merged for a in adapter_layers(model))
    assert torch.allclose(model(x), y, atol=1e-5)
    unmerge(model)
    assert torch.allclose(model(x), y, atol=1e-5)
    state = adapter_state_dict(model)
    assert state and all(("lora_" in k) or ("core" in k) or ("factors" in k) for k in state)
    single = apply_adapters(nn.Linear(3, 3), "svfit", 2)
    assert isinstance(single, SVFit)


def test_bad_input():
    with pytest.raises(BadInput):
        apply_adapters(nn.Sequential(nn.Linear(3, 3)), "dora", 2)
    with pytest.raises(BadInput):
        apply_adapters(nn.Sequential(nn.Linear(3, 3)), "lora", 2, target="nothing")
    with pytest.raises(BadInput):
        LoRA(nn.Linear(3, 4), 4)
    with pytest.raises(BadInput):
        FLoRA(nn.Linear(3, 4), [2, 2, 2])
    with pytest.raises(BadInput):
        FLoRA(nn.Linear(3, 4), [5, 2])
    with pytest.raises(BadInput):
        SVFit(nn.Embedding(5, 3), 2)
    with pytest.raises(BadInput):
        TrainedRankPruning(energy=0)


def test_trp_truncates_to_energy():
    torch.manual_seed(0)
    lin = nn.Linear(10, 8, bias=False).double()
    U = torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(10, 8, dtype=torch.float64)).Q
    s = torch.tensor([4.0, 2.0, 1.0, 0.1, 0.05, 0.01, 0.01, 0.01], dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_((U * s) @ V.T)
    model = nn.Sequential(lin)
    trp = TrainedRankPruning(every_n_steps=3, energy=0.99)
    assert [trp.on_step_end(model) for _ in range(3)] == [False, False, True]
    # Energies 16, 4, 1 of 21.0127: 0.761, 0.952, 0.9993 -> rank 3.
    assert trp.ranks_ == {"0": [3]}
    assert torch.linalg.matrix_rank(lin.weight).item() == 3
    assert torch.allclose(torch.linalg.svdvals(lin.weight)[:3], s[:3], atol=1e-10)


def test_trp_grouped_conv_and_nuclear_gradient():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, groups=2)
    model = nn.Sequential(conv)
    trp = TrainedRankPruning(every_n_steps=1, energy=0.5, lambda_nuc=0.1)
    model(torch.randn(1, 4, 5, 5)).sum().backward()
    g0 = conv.weight.grad.clone()
    trp.on_after_backward(model)
    W = conv.weight.detach().reshape(2, 3, -1)
    U, _, Vh = torch.linalg.svd(W, full_matrices=False)
    assert torch.allclose(conv.weight.grad - g0, 0.1 * (U @ Vh).reshape(conv.weight.shape), atol=1e-6)
    trp(model)
    assert len(trp.ranks_["0"]) == 2
    for g, r in enumerate(trp.ranks_["0"]):
        assert torch.linalg.matrix_rank(conv.weight.detach().reshape(2, 3, -1)[g], atol=1e-5).item() == r


def test_trp_skips_frozen_adapter_bases():
    model = apply_adapters(nn.Sequential(nn.Linear(6, 6), nn.Linear(6, 6)), "lora", 2, target="0")
    for p in model[1].parameters():
        p.requires_grad_(True)
    trp = TrainedRankPruning(every_n_steps=1, energy=0.9)
    trp(model)
    assert list(trp.ranks_) == ["1"]


@pytest.mark.parametrize("layer", ["linear", "conv2d_groups"])
def test_flora_delta_is_scale_times_the_tucker_product(layer):
    """FLoRA (Si et al. 2024): dW = s * G x_1 U_1 ... x_N U_N, each mode product written out."""
    base, ad, x = make(layer, "flora", rank=2, scale=4.0)
    perturb(ad)
    G, Us = ad.core.detach(), [U.detach() for U in ad.factors]
    if G.ndim == 2:  # Linear: U_1 G U_2^T
        ref = Us[0] @ G @ Us[1].T
    else:  # Conv2d weight (out, in / groups, kh, kw)
        ref = torch.einsum("abcd,ia,jb,kc,ld->ijkl", G, *Us)
    assert ad.delta_weight().shape == base.weight.shape
    assert torch.allclose(ad.delta_weight(), 4.0 * ref, atol=1e-12)


@pytest.mark.parametrize("kind", list(KINDS))
def test_dropout_acts_on_the_adapter_branch_only(kind):
    """y = base(x) + op(dropout(x), dW): with dW = 0 (the start) training-mode dropout changes nothing."""
    base, ad, x = make("linear", kind, dropout=0.5)
    ad.train()
    torch.manual_seed(1)
    assert torch.equal(ad(x), base(x))
    perturb(ad)
    ad.eval()  # no dropout in eval: the plain adapted layer
    assert torch.allclose(ad(x), base(x) + nn.functional.linear(x, ad.delta_weight()), atol=1e-12)


def test_a_name_suffix_target_matches_whole_name_components():
    """target "proj" selects "proj" and "block.proj", never "out_proj" (a suffix of the last component only)."""
    model = nn.ModuleDict({"proj": nn.Linear(3, 3), "out_proj": nn.Linear(3, 3),
                           "block": nn.ModuleDict({"proj": nn.Linear(3, 3), "in_proj": nn.Linear(3, 3)})})
    apply_adapters(model, "lora", 2, target="proj")
    assert isinstance(model["proj"], LoRA) and isinstance(model["block"]["proj"], LoRA)
    assert isinstance(model["out_proj"], nn.Linear) and isinstance(model["block"]["in_proj"], nn.Linear)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kind", list(KINDS))
def test_cuda(kind):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, groups=1), nn.Flatten(), nn.Linear(8 * 16, 4)).cuda()
    x = torch.randn(2, 3, 4, 4, device="cuda")
    y = model(x)
    apply_adapters(model, kind, 2)
    assert torch.allclose(model(x), y, atol=1e-5)
    model(x).sum().backward()
    merge(model)
    TrainedRankPruning(every_n_steps=1)(model)
