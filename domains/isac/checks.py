"""The isac flow's input check, as the CLI runs it before Prefect.

A CSI file's own mistakes (not HDF5, no dataset, real or wrong-rank data,
missing or bad attributes, NaN) are found by
:func:`domains.isac.csi_header.check_header`, which needs h5py and numpy
only, so they fail before torch is imported (seconds on a loaded 2-core
machine). What needs the radar model (factors, bands, the number of
targets) is checked next by :func:`domains.isac.steps.check_inputs`, on the
header already read (the NaN scan runs once). ``steps.SPEC.check`` is
:func:`check` itself (``pipelines.registry``'s ``check=`` names it).
"""

from __future__ import annotations

from domains.isac.csi_header import check_header


def check(data: str | None, dataset: str | None, cfg) -> None:
    """Header-level validation of ``--data`` / ``--dataset`` / the scenario settings (BadInput)."""
    header = check_header(data) if data else None
    from domains.isac.steps import check_inputs  # torch: only once the file itself is sound

    check_inputs(data, dataset, cfg, header)
