"""The unified neural-operator reconstruction (NO-MRI's NOVarnet, image-domain form).

For undersampled coil k-space ``y``, mask ``M`` and coil maps ``S``
(``A = M F S``, :mod:`domains.mri.operators`):

1. ``x_0 = A^H y`` (sensitivity-weighted coil combination, NO-MRI's ``"rss"`` reduction);
2. k-space operator: ``k = F x_0;  k <- k + KNO(k)``, a NormUDNO on the 2-channel
   k-space (global inpainting of missing frequencies); ``x_0 = F^-1 k``;
3. ``T`` cascades with learned soft data consistency ``eta_t`` and a UDNO
   regulariser: ``x_{t+1} = x_t - eta_t A^H (A x_t - y) - UDNO_t(x_t)``;
4. output ``|x_T|``, compared with fastMRI's RSS target.

Step 3 is E2E-VarNet's soft-DC cascade written on the combined image instead
of per-coil k-space (the two agree for k-space in the range of ``S``); the
SENSE operator is shared with the CS baselines. Resolution: image-space
operators see pixel density ``image_factor`` relative to training, the KNO sees
k-space spacing ``kspace_factor`` (super-resolution at the same field of view
keeps the k-space spacing, so ``(2, 1)``; an extended field of view at the same
pixel size is ``(1, 2)``), see :meth:`NOVarNet.set_grid`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from domains.mri.disco import set_resolution
from domains.mri.fft import fft2c, ifft2c
from domains.mri.operators import sense_adjoint, sense_forward
from domains.mri.udno import NormUDNO

ARCH = "lowdim-mri-novarnet-v1"


class NOVarNet(nn.Module):
    """Unrolled DISCO neural operator with learned soft data consistency.

    Parameters
    ----------
    cascades : int
    chans, pools : int
        UDNO width and depth per cascade.
    radius : float
        DISCO radius at the first level, units of the [-1, 1] reference image.
    ref_size : int
        Training resolution in pixels.
    kernel_shape : (n_rings, n_angles)
    kspace_operator : bool
        Include the k-space operator (KNO).
    kno_chans, kno_pools : int
    """

    def __init__(self, cascades: int = 4, chans: int = 8, pools: int = 2, radius: float = 0.05,
                 ref_size: int = 64, kernel_shape=(3, 4), kspace_operator: bool = True,
                 kno_chans: int = 8, kno_pools: int = 2):
        super().__init__()
        kw = dict(radius=radius, ref_size=ref_size, kernel_shape=tuple(kernel_shape))
        self.kno = NormUDNO(chans=kno_chans, pools=kno_pools, **kw) if kspace_operator else None
        if self.kno is not None:
            # zero output layer: at the start the KNO adds only the per-sample mean that NormUDNO
            # re-adds (a constant k-space offset, i.e. a spike at the image centre), not a learned
            # term; training learns the correction from there (kept: the measured figures use it)
            nn.init.zeros_(self.kno.net.out.weight)
            nn.init.zeros_(self.kno.net.out.bias)
        self.regularisers = nn.ModuleList([NormUDNO(chans=chans, pools=pools, **kw) for _ in range(cascades)])
        self.eta = nn.Parameter(torch.ones(cascades))

    def set_grid(self, image_factor: float = 1.0, kspace_factor: float = 1.0) -> "NOVarNet":
        """Pixel density of the image-space and k-space grids relative to training."""
        set_resolution(self.regularisers, image_factor)
        if self.kno is not None:
            set_resolution(self.kno, kspace_factor)
        return self

    def forward(self, y: Tensor, mask: Tensor, sens: Tensor) -> Tensor:
        """Reconstruct.

        Parameters
        ----------
        y : Tensor (B, C, H, W) complex
            Undersampled coil k-space (zeros where not sampled).
        mask : Tensor (B or 1, 1, H, W)
        sens : Tensor (B, C, H, W) complex

        Returns
        -------
        Tensor (B, H, W) real: the magnitude image.
        """
        x = sense_adjoint(y, sens, mask)
        if self.kno is not None:
            k = fft2c(x)
            x = ifft2c(k + self.kno(k))
        for eta, reg in zip(self.eta, self.regularisers):
            x = x - eta * sense_adjoint(sense_forward(x, sens, mask) - y, sens, mask) - reg(x)
        return x.abs()
