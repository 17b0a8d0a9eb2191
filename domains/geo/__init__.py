"""Geological mapping from multispectral scenes (Nagar, Farahbakhsh et al. 2024).

Landsat 8/9 C2 L2, Sentinel-2 L2A and ASTER readers with their scale factors and
QA masks, a synthetic scene written in those products' layouts, per-pixel PCA /
canonical / stacked autoencoders, k-means, a vectorised majority filter, COG
unit maps and scores against a reference map. ``domains.geo.steps:SPEC`` is the
flow's contract.
"""
