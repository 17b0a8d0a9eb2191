"""UDNO: a U-shaped neural operator whose convolutions are DISCO layers (NO-MRI).

Block = [DISCO -> InstanceNorm2d -> LeakyReLU(0.2)] x 2; down = average
pooling by 2; up = bilinear upsampling by 2 -> DISCO -> IN -> LeakyReLU, then
the skip is concatenated; a final 1x1 ``Conv2d``. The DISCO radius doubles at
each pooling level, so every level covers the same number of its own pixels
at the training resolution and the same physical disc at any resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from domains.mri.disco import DiscoConv2d


class DiscoBlock(nn.Sequential):
    def __init__(self, cin: int, cout: int, radius: float, ref_size: int, kernel_shape):
        super().__init__(
            DiscoConv2d(cin, cout, radius, ref_size, kernel_shape, bias=False), nn.InstanceNorm2d(cout),
            nn.LeakyReLU(0.2, inplace=True),
            DiscoConv2d(cout, cout, radius, ref_size, kernel_shape, bias=False), nn.InstanceNorm2d(cout),
            nn.LeakyReLU(0.2, inplace=True))


class UDNO(nn.Module):
    """``(B, in, H, W) -> (B, out, H, W)`` for any ``H, W`` (padded to a multiple of ``2^pools``).

    Parameters
    ----------
    in_channels, out_channels : int
    chans : int
        Channels of the first level (doubled at each pooling).
    pools : int
        Pooling levels.
    radius : float
        DISCO radius at the first level (see :class:`DiscoConv2d`).
    ref_size : int
        Training resolution in pixels.
    kernel_shape : (n_rings, n_angles)
    """

    def __init__(self, in_channels: int, out_channels: int, chans: int = 8, pools: int = 2,
                 radius: float = 0.05, ref_size: int = 64, kernel_shape=(3, 4)):
        super().__init__()
        self.pools = int(pools)
        ks = tuple(kernel_shape)
        self.down = nn.ModuleList([DiscoBlock(in_channels, chans, radius, ref_size, ks)])
        c = chans
        for lvl in range(1, pools + 1):
            self.down.append(DiscoBlock(c, 2 * c, radius * 2 ** lvl, max(1, ref_size >> lvl), ks))
            c *= 2
        self.up_conv = nn.ModuleList()
        self.up_block = nn.ModuleList()
        for lvl in range(pools - 1, -1, -1):
            r, ref = radius * 2 ** lvl, max(1, ref_size >> lvl)
            self.up_conv.append(nn.Sequential(DiscoConv2d(c, c // 2, r, ref, ks, bias=False),
                                              nn.InstanceNorm2d(c // 2), nn.LeakyReLU(0.2, inplace=True)))
            self.up_block.append(DiscoBlock(c, c // 2, r, ref, ks))
            c //= 2
        self.out = nn.Conv2d(c, out_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        f = 2 ** self.pools
        ph, pw = (-h) % f, (-w) % f
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        skips = []
        for i, blk in enumerate(self.down):
            x = blk(x)
            if i < self.pools:
                skips.append(x)
                x = F.avg_pool2d(x, 2)
        for conv, blk in zip(self.up_conv, self.up_block):
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = blk(torch.cat([skip, conv(x)], dim=1))
        x = self.out(x)
        if ph or pw:
            x = x[..., ph // 2:ph // 2 + h, pw // 2:pw // 2 + w]
        return x


class NormUDNO(nn.Module):
    """A UDNO on complex images ``(B, H, W)``: real/imag channels, per-sample mean/std normalisation."""

    def __init__(self, **kw):
        super().__init__()
        self.net = UDNO(2, 2, **kw)

    def forward(self, z: Tensor) -> Tensor:
        x = torch.view_as_real(z).permute(0, 3, 1, 2)  # (B, 2, H, W)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
        x = self.net((x - mean) / std) * std + mean
        return torch.view_as_complex(x.permute(0, 2, 3, 1).contiguous())
