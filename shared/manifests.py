"""Data manifests: one YAML per dataset under ``data_manifests/<domain>/``.

A manifest says what a dataset is, where a user gets it, its licence and
checksums, and which function reads it (``loader``) or generates the embedded
default (``generator``). ``lowdim data verify`` checks files against sha256.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import BadInput

_ENTRY = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    url: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    bytes: int | None = Field(default=None, ge=0)


class Manifest(BaseModel):
    """One dataset. Field names follow DESIGN.md, "Data manifests"."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    domain: str
    title: str
    description: str
    license: str
    citation: str
    homepage: str | None = None
    access: Literal["embedded", "open", "registration"]
    files: list[ManifestFile] = Field(default_factory=list)
    format: str
    loader: str | None = Field(default=None, pattern=_ENTRY)
    generator: str | None = Field(default=None, pattern=_ENTRY)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _embedded_has_generator(self) -> "Manifest":
        if self.access == "embedded" and not self.generator:
            raise ValueError("an embedded dataset needs a generator")
        if self.access != "embedded" and not self.loader:
            raise ValueError("a dataset that is not embedded needs a loader")
        return self


def manifest_root() -> Path:
    """``$LOWDIM_MANIFESTS`` or the repository's ``data_manifests/``."""
    env = os.environ.get("LOWDIM_MANIFESTS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data_manifests"


def data_dir() -> Path:
    """Where a user places downloaded files: ``$LOWDIM_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get("LOWDIM_DATA_DIR", "data"))


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate one manifest; errors name the file and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise BadInput(str(path), "manifest file not found") from None
    except yaml.YAMLError as err:
        raise BadInput(str(path), f"not valid YAML ({err.__class__.__name__})") from None
    try:
        m = Manifest.model_validate(raw)
    except ValidationError as err:
        e = err.errors()[0]
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        raise BadInput(f"{path}:{key}", e["msg"]) from None
    if m.domain != path.parent.name:
        raise BadInput(f"{path}:domain", f"'{m.domain}' does not match folder '{path.parent.name}'")
    return m


def all_manifests(root: str | os.PathLike | None = None) -> dict[str, Manifest]:
    """Every manifest under ``root``, keyed by id."""
    root = Path(root) if root else manifest_root()
    out: dict[str, Manifest] = {}
    for f in sorted(root.glob("*/*.yaml")):
        m = load_manifest(f)
        if m.id in out:
            raise BadInput(str(f), f"duplicate manifest id '{m.id}'")
        out[m.id] = m
    return out


def get_manifest(dataset_id: str, root: str | os.PathLike | None = None, where: str | None = None) -> Manifest:
    """The manifest with this id, or a BadInput naming the id (as ``where``; default ``--dataset ID``)."""
    ms = all_manifests(root)
    if dataset_id not in ms:
        raise BadInput(where or f"--dataset {dataset_id}", f"unknown dataset (known: {', '.join(sorted(ms))})")
    return ms[dataset_id]


def resolve_entry(entry: str) -> Callable[..., Any]:
    """Import ``"module:function"``."""
    mod, fn = entry.split(":")
    return getattr(importlib.import_module(mod), fn)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify(m: Manifest, directory: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """Check a manifest's files under ``directory/<id>/``.

    Returns
    -------
    list of (file name, status)
        status is ``ok``, ``missing``, ``sha256 mismatch`` or ``no checksum``.
    """
    base = Path(directory) if directory else data_dir()
    rows = []
    for f in m.files:
        p = base / m.id / f.name
        if not p.is_file():
            rows.append((f.name, "missing"))
        elif f.sha256 is None:
            rows.append((f.name, "no checksum"))
        else:
            rows.append((f.name, "ok" if sha256_file(p) == f.sha256 else "sha256 mismatch"))
    return rows
