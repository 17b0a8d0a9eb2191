"""PLAIN: comPressed decoupLed estimAtion and Input-based fusioN.

Stages, one module each:

* :mod:`.compress` - per-mode decimation or block averaging;
* :mod:`.modal` - per-mode covariance, forward-backward averaging, AIC/MDL,
  root-MUSIC / ESPRIT / ESPRIT + MUSIC-Newton (subspaces from the shared
  core's ``svd``);
* :mod:`.fusion` - Tensor-OMP (CP support, joint refit), the reference code's
  Tucker-residual OMP, TensorLS, all in the small candidate domain;
* :mod:`.atoms` - Kronecker-atom contractions (data correlations, Grams, LS
  amplitudes) that never form an N x K matrix;
* :mod:`.estimator` - :func:`plain` and :func:`plain_batch`, the three stages
  end to end.
"""

from domains.isac.plain.compress import averaging_gain, compress
from domains.isac.plain.estimator import check_tensor, plain, plain_batch

__all__ = ["plain", "plain_batch", "compress", "averaging_gain", "check_tensor"]
