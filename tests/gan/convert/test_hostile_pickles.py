"""Fuzzing the converter with hostile files (`tests/gan/convert/hostile.py`): each must end in a
clear `ConversionError` within the caps, or in a model whose tensors equal the reference's.

Every case runs in this process: a crash would end the run, and the process's peak memory is
checked after each one (the acceptance bound is 4 GB and 60 s a file; the cases take well under
a second and a few MB each).
"""

from __future__ import annotations

import io
import resource
import time
import zipfile

import pytest
import torch

from gan.convert import (
    ConversionError,
    convert_checkpoint,
    convert_network_pickle,
    network_reader,
    safe_pickle,
    standins,
)
from gan.convert.writer import model_card
from tests.gan.convert import fakes, hostile

PEAK_RSS_BYTES = 4 << 30  # the bound for one file
SECONDS = 60


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


@pytest.mark.parametrize("name", sorted(hostile.CASES))
def test_hostile_pickle_is_a_clear_error_within_the_caps(name):
    build, message = hostile.CASES[name]
    data = build()
    start = time.monotonic()
    with pytest.raises(ConversionError, match=message) as info:
        convert_network_pickle(io.BytesIO(data))
    assert time.monotonic() - start < SECONDS
    assert _peak_rss() < PEAK_RSS_BYTES
    assert "Traceback" not in str(info.value) and len(str(info.value)) < 1000
    assert not set("<>`") & set(str(info.value)) and "](javascript" not in str(info.value)


@pytest.mark.parametrize("name", sorted(hostile.BENIGN))
def test_odd_but_honest_pickle_converts_exactly(name):
    data, expected = hostile.BENIGN[name]()
    out = convert_network_pickle(io.BytesIO(data))
    assert out.state.keys() == expected.keys()
    for key, value in expected.items():
        assert out.state[key].dtype == value.dtype and torch.equal(out.state[key], value), key


def test_a_refused_build_leaves_the_converter_unchanged():
    modules = (safe_pickle, standins, network_reader)
    before = [dict(vars(m)) for m in modules]
    with pytest.raises(ConversionError):
        convert_network_pickle(io.BytesIO(hostile.build_on_converter_function()))
    assert [dict(vars(m)) for m in modules] == before
    stand_ins = (network_reader._rebuild_parameter, network_reader._load_storage)
    assert not any(vars(f) for f in stand_ins)


def test_tensor_views_are_checked_before_anything_is_copied(monkeypatch):
    copies = []
    real = standins.TensorRef.materialize
    monkeypatch.setattr(
        standins.TensorRef,
        "materialize",
        lambda self, what: copies.append(what) or real(self, what),
    )
    gc, g = hostile._base()
    g["synthesis.b8.conv0.weight"] = torch.zeros(8, 8, 1, 1)  # a wrong shape, found first
    with pytest.raises(ConversionError, match="wrong shapes"):
        convert_network_pickle(io.BytesIO(fakes.nvidia_pickle_bytes(gc, g)))
    assert copies == []


def test_the_model_card_escapes_what_it_did_not_check():
    gc, g = hostile._base()
    out = convert_network_pickle(io.BytesIO(fakes.nvidia_pickle_bytes(gc, g)))
    card = model_card(
        "tiny", "local file <script>x</script>.pkl", "nvidia", "[MIT](javascript:1)", out
    )
    assert "<script>" not in card and "](javascript" not in card
    assert "skip architecture" in card


def test_rosinality_zip_with_deflated_records_is_refused(tmp_path):
    """A deflate bomb in a torch.save zip: torch never compresses, so it is refused unread."""
    plain = tmp_path / "plain.pt"
    torch.save({"g_ema": {"w": torch.zeros(1 << 16)}}, plain)
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    assert bomb.stat().st_size < plain.stat().st_size // 10
    with pytest.raises(ConversionError, match="compressed records"):
        convert_checkpoint(bomb)


@pytest.mark.parametrize("dtype", [torch.float64, torch.int64, torch.bool, torch.complex64])
def test_rosinality_non_float32_weights_are_refused(tmp_path, dtype):
    path = tmp_path / "x.pt"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(4, 4, dtype=dtype)}}, path)
    with pytest.raises(ConversionError, match=f"holds {dtype}"):
        convert_checkpoint(path)
