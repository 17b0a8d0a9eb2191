"""ISAC domain: OFDM radar tensor parameter estimation (PLAIN, refinement, CRB).

Modules
-------
types      ``Estimate`` (what every estimator returns) and ``CSIData``; the
           tensor and frequency conventions of the domain.
physics    ``OFDMRadar``: exact maps between normalized frequencies and
           angle / range / velocity, Jacobians, resolution and limits.
scenarios  ``default``, ``plain-demo`` (= ``paper_compat``) and ``close``.
simulate   Seeded, batched harmonic-tensor simulator; the embedded generator.
io         HDF5 CSI layout: ``load_csi`` / ``write_csi``.
plain      PLAIN: compression, per-mode root-MUSIC/ESPRIT with AIC/MDL,
           Tensor-OMP / TensorLS fusion.
refine     Joint variable-projection Levenberg-Marquardt after PLAIN.
crb        Deterministic CRB from per-mode Gram pieces.
baselines, metrics, evaluate
           Classical estimators, matching/OSPA, Monte Carlo.

No Prefect import here: the flow lives in ``pipelines/isac.py``.
"""
