from __future__ import annotations

import hashlib

import pytest

from shared.errors import BadInput
from shared.manifests import all_manifests, load_manifest, resolve_entry, verify

GOOD = """\
id: tiny
domain: demo
title: Tiny
description: one file
license: CC0-1.0
citation: none
access: open
files: [{name: a.bin, url: "https://example.org/a.bin", sha256: "%s", bytes: 3}]
format: raw
loader: "shared.manifests:sha256_file"
"""


def test_repository_manifests_validate_and_entries_import():
    ms = all_manifests()
    assert "synthetic-tucker" in ms
    for m in ms.values():
        for entry in (m.loader, m.generator):
            if entry:
                assert callable(resolve_entry(entry))


def test_verify_detects_ok_missing_and_mismatch(tmp_path):
    digest = hashlib.sha256(b"abc").hexdigest()
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "tiny.yaml").write_text(GOOD % digest)
    m = load_manifest(tmp_path / "demo" / "tiny.yaml")
    data = tmp_path / "data"
    assert verify(m, data) == [("a.bin", "missing")]
    (data / "tiny").mkdir(parents=True)
    (data / "tiny" / "a.bin").write_bytes(b"abc")
    assert verify(m, data) == [("a.bin", "ok")]
    (data / "tiny" / "a.bin").write_bytes(b"abd")
    assert verify(m, data) == [("a.bin", "sha256 mismatch")]


@pytest.mark.parametrize("edit, field", [
    (lambda s: s.replace("access: open", "access: public"), "access"),
    (lambda s: s.replace("license: CC0-1.0\n", ""), "license"),
    (lambda s: s + "colour: red\n", "colour"),
    (lambda s: s.replace("domain: demo", "domain: other"), "domain"),
])
def test_bad_manifest_names_file_and_field(tmp_path, edit, field):
    (tmp_path / "demo").mkdir()
    f = tmp_path / "demo" / "tiny.yaml"
    f.write_text(edit(GOOD % ("0" * 64)))
    with pytest.raises(BadInput) as e:
        load_manifest(f)
    assert str(f) in str(e.value) and field in str(e.value)
