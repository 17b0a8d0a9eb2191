"""The ``lowrank`` domain: compress any tensor with the shared core."""

from domains.lowrank import steps
from domains.lowrank.config import PROFILES, LowrankConfig
from shared.domain import DomainSpec

SPEC = DomainSpec(
    name="lowrank",
    summary="compress an HDF5 or synthetic tensor by truncated HOSVD / randomized SVD",
    config=LowrankConfig,
    profiles=PROFILES,
    ingest=steps.ingest,
    reduce=steps.reduce,
    evaluate=steps.evaluate,
    check=steps.check,
)
