"""PLAIN: comPressed decoupLed estimAtion and Input-based fusioN.

Stages, one module each:

* :mod:`.compress` - per-mode decimation or block averaging;
* :mod:`.modal` - per-mode covariance, forward-backward averaging, AIC/MDL,
  root-MUSIC / ESPRIT;
* :mod:`.fusion` - Tensor-OMP / TensorLS over Kronecker atoms;
* :mod:`.estimator` - :func:`plain`, the three stages end to end.
"""

from domains.isac.plain.compress import averaging_gain, compress
from domains.isac.plain.estimator import check_tensor, plain, plain_batch

__all__ = ["plain", "plain_batch", "compress", "averaging_gain", "check_tensor"]
