"""Classical baselines for ISAC tensor parameter estimation.

Every estimator has the domain signature
``fn(Y: Tensor (N1, N2, N3), n_targets: int | None, **options) -> Estimate``:

* :func:`fft3d` - zero-padded 3-D FFT periodogram with peak picking;
* :func:`sequential` - radar pipeline: range-Doppler FFT, non-coherent
  integration over antennas, then angle per detected cell;
* :func:`esprit3d` - joint 3-D Standard ESPRIT with spatial smoothing,
  forward-backward averaging and joint-diagonalisation pairing.
"""

from domains.isac.baselines.esprit3d import esprit3d
from domains.isac.baselines.fft3d import fft3d
from domains.isac.baselines.sequential import sequential

BASELINES = {"fft3d": fft3d, "sequential": sequential, "esprit3d": esprit3d}

__all__ = ["fft3d", "sequential", "esprit3d", "BASELINES"]
