"""The E2E-VarNet baseline: MONAI's ``VariationalNetworkModel`` with ``ComplexUnet`` cascades.

MONAI's ``CoilSensitivityModel`` walks a 1-D column mask to find the
autocalibration band, which is ill-defined for the 2-D families; the VarNet
therefore gets :class:`ACSSensitivity`, the same ACS coil maps as the operator
(:func:`domains.mri.operators.estimate_sensitivities`), so the two models
differ only in their cascades. MONAI is imported lazily (about 6 s).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from domains.mri.operators import estimate_sensitivities

ARCH = "monai-varnet-v1"


class ACSSensitivity(nn.Module):
    """``(masked_kspace (B, C, H, W, 2), mask (B, 1, H, W, 1)) -> maps (B, C, H, W, 2)``, per sample."""

    def forward(self, masked_kspace: Tensor, mask: Tensor) -> Tensor:
        k = torch.view_as_complex(masked_kspace.contiguous())
        m = mask[..., 0].to(k.real.dtype)
        maps = [estimate_sensitivities(k[b:b + 1], m[min(b, m.shape[0] - 1):min(b, m.shape[0] - 1) + 1])
                for b in range(k.shape[0])]
        return torch.view_as_real(torch.cat(maps))


class VarNet(nn.Module):
    """MONAI E2E-VarNet with the domain's call signature ``(y, mask, sens) -> |x| (B, H, W)``.

    Parameters
    ----------
    cascades : int
    features : sequence of 6 int
        ``ComplexUnet`` (MONAI ``BasicUNet``) features per level.
    """

    def __init__(self, cascades: int = 3, features=(5, 5, 10, 20, 40, 5)):
        super().__init__()
        from monai.apps.reconstruction.networks.nets.complex_unet import ComplexUnet
        from monai.apps.reconstruction.networks.nets.varnet import VariationalNetworkModel

        self.net = VariationalNetworkModel(ACSSensitivity(), ComplexUnet(spatial_dims=2, features=tuple(features)),
                                           num_cascades=int(cascades), spatial_dims=2)

    def forward(self, y: Tensor, mask: Tensor, sens: Tensor | None = None) -> Tensor:
        """``sens`` is ignored: MONAI's model computes its maps (the same ACS maps) itself."""
        m = mask.to(torch.bool).unsqueeze(-1)  # (B, 1, H, W, 1)
        return self.net(torch.view_as_real(y.contiguous()), m)
