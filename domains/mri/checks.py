"""The ``mri`` flow's input check, as the CLI runs it before Prefect.

Light on purpose: the config, the fastMRI header check
(:mod:`domains.mri.fastmri_header`, h5py and numpy) and the manifests, so a bad
``--data`` file or setting fails in well under a second, without importing
torch (``pipelines.registry``'s ``check=`` names :func:`check`;
``steps.SPEC.check`` is the same function). Only a given checkpoint needs
torch: it is rebuilt and loaded strictly, last.
"""

from __future__ import annotations

from domains.mri.config import MriConfig
from domains.mri.fastmri_header import check_file
from shared.errors import BadInput
from shared.manifests import get_manifest


def build_varnet(cascades: int, features: list[int]):
    """MONAI's VarNet with a checkpoint's arguments (the builder :func:`domains.mri.checkpoint.load_model` calls)."""
    from domains.mri.varnet import VarNet

    return VarNet(cascades, features)


def check(data: str | None, dataset: str | None, cfg: MriConfig) -> None:
    """Header-level checks before Prefect: the file, its k-space and mask, the settings, the checkpoints."""
    if data:
        check_file(data)
        if not cfg.model.checkpoint:
            raise BadInput("model.checkpoint", "inference on --data needs a trained operator: run `lowdim run mri` "
                                               "and pass --set model.checkpoint=<run>/model/operator.pt")
    if dataset:
        m = get_manifest(dataset)
        if m.domain != "mri" or m.access != "embedded":
            raise BadInput(f"--dataset {dataset}", "not an embedded mri dataset; use --data FILE.h5")
    ic, mc = cfg.ingest, cfg.model
    if mc.varnet_checkpoint and not mc.checkpoint:
        raise BadInput("--set model.varnet_checkpoint", "needs model.checkpoint too (without it both models "
                                                        "are trained and this checkpoint would be ignored)")
    if cfg.evaluate.cs_wavelet:
        import pywt

        if cfg.evaluate.cs_wavelet_name not in pywt.wavelist(kind="discrete"):
            raise BadInput("--set evaluate.cs_wavelet_name", f"{cfg.evaluate.cs_wavelet_name!r} is not a discrete "
                                                             "wavelet PyWavelets knows (e.g. db4, sym8, haar)")
    if not data:  # each U-Net level halves the grid; the coarsest must keep at least 2 x 2 pixels
        for n in [ic.size, *ic.extra_train_sizes]:
            for key, pools in (("model.pools", mc.pools), ("model.kno_pools", mc.kno_pools)):
                coarsest = -(-n // 2 ** pools)  # the U-Net pads to a multiple of 2^pools
                if coarsest < 2:
                    raise BadInput(f"--set {key}", f"{pools} pooling levels leave {coarsest} pixel of the "
                                                   f"{n} x {n} grid; use at most {max(0, (n - 1).bit_length() - 1)}")
    for n in ic.extra_train_sizes:
        if n < 16 or (ic.twice_resolution and n >= 2 * ic.size):
            raise BadInput("ingest.extra_train_sizes", f"{n}: extra training sizes must be >= 16 and below the "
                                                       f"2x test resolution ({2 * ic.size}), so that stays unseen")
    if not (mc.checkpoint or mc.varnet_checkpoint):
        return
    # rebuild and load strictly (on CPU, cheap): a checkpoint whose arguments or weights do not fit
    # fails here, not in the model step after Prefect started
    from domains.mri import checkpoint as ckpt
    from domains.mri.model import ARCH, NOVarNet

    if mc.checkpoint:
        _, ck = ckpt.load_model(mc.checkpoint, ARCH, NOVarNet, "model.checkpoint")
        ref = int(ck["kwargs"].get("ref_size", ic.size))
        if not data and ref != ic.size:  # the simulated data keep one field of view: size is pixel density
            raise BadInput("--set ingest.size", f"{ic.size}, but model.checkpoint was trained at {ref} x {ref}; "
                                                f"use ingest.size={ref} (the flow's 2x test covers {2 * ref})")
    if mc.varnet_checkpoint:
        from domains.mri.varnet import ARCH as VN_ARCH

        ckpt.load_model(mc.varnet_checkpoint, VN_ARCH, build_varnet, "model.varnet_checkpoint")
