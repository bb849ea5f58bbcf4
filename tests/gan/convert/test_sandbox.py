"""The conversion sandbox: a capped child process, a checked result, nothing left on failure."""

from __future__ import annotations

import json

import pytest
import torch

from gan.convert import ConversionError, layout
from gan.convert._compat import store
from gan.convert.sandbox import Caps, child_env, convert_sandboxed
from tests.gan.convert import fakes, hostile


@pytest.fixture
def tiny(tmp_path):
    gc, dc = fakes.tiny_g_config(), fakes.tiny_d_config()
    g = fakes.random_state(layout.generator_shapes(gc), seed=7)
    d = fakes.random_state(layout.discriminator_shapes(dc), seed=8)
    path = tmp_path / "snapshot.pkl"
    path.write_bytes(fakes.nvidia_pickle_bytes(gc, g, dc, d))
    return path, g


def _left(root):
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_sandboxed_conversion_is_exact_and_leaves_no_scratch(tiny, tmp_path):
    path, g = tiny
    root = tmp_path / "models"
    folder = convert_sandboxed(path, root / "tiny", "local file snapshot.pkl")
    weights = store.read_safetensors(folder / "model.safetensors")
    assert all(torch.equal(weights[k], g[k]) for k in g)
    assert (folder / "discriminator.safetensors").is_file()
    assert _left(root) == ["tiny"]


@pytest.mark.parametrize(
    ("caps", "message"),
    [
        (Caps(memory_bytes=1 << 20), "memory|crashed|failed"),
        (Caps(wall_seconds=0.2), "took over 0.2 s"),
        (Caps(output_bytes=2000), "larger than the output cap"),
        (Caps(input_bytes=100), "over the 100 byte cap"),
    ],
    ids=["memory", "time", "output", "input"],
)
def test_a_cap_in_the_child_is_a_clear_error_and_leaves_nothing(tiny, tmp_path, caps, message):
    path, _ = tiny
    root = tmp_path / "models"
    with pytest.raises(ConversionError, match=message):
        convert_sandboxed(path, root / "tiny", "x", caps=caps)
    assert _left(root) == []


def test_a_refusal_in_the_child_reaches_the_parent(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(hostile.tensor_stride_zero())
    with pytest.raises(ConversionError, match="stride below 1"):
        convert_sandboxed(path, tmp_path / "models" / "evil", "x")
    assert _left(tmp_path / "models") == []


def test_an_output_that_does_not_load_is_not_moved_into_place(tiny, tmp_path, monkeypatch):
    from gan.convert import sandbox

    def broken_child(request, scratch, caps):
        out = scratch / "out"
        out.mkdir()
        config = fakes.tiny_g_config() | {"img_resolution": 32}  # weights are for 16 px
        (out / "config.json").write_text(json.dumps(config))
        state = fakes.random_state(layout.generator_shapes(fakes.tiny_g_config()))
        store.save_pretrained(out / "x", fakes.tiny_g_config(), state, "card")
        (out / "x" / "model.safetensors").rename(out / "model.safetensors")
        (out / "README.md").write_text("card")
        store.shutil.rmtree(out / "x")

    monkeypatch.setattr(sandbox, "_run_child", broken_child)
    path, _ = tiny
    with pytest.raises(ConversionError, match="does not load"):
        convert_sandboxed(path, tmp_path / "models" / "tiny", "x")
    assert _left(tmp_path / "models") == []


def test_the_child_gets_no_token_and_no_route_out(monkeypatch, tmp_path):
    for name in (
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "GAN_STUDIO_SECRET",
        "AWS_SECRET_ACCESS_KEY",
    ):
        monkeypatch.setenv(name, "secret")
    env = child_env(tmp_path)
    assert "secret" not in env.values()
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["https_proxy"] == env["HTTPS_PROXY"] == "http://127.0.0.1:9"


def test_a_legacy_checkpoint_with_a_forged_storage_size_hits_the_memory_cap(tmp_path):
    """torch's own loader allocates a legacy record's stated size first: 1 GiB from a tiny file
    is stopped by the child's memory cap."""
    import io
    import struct

    buf = io.BytesIO()
    torch.save({"g_ema": {"w": torch.zeros(4)}}, buf, _use_new_zipfile_serialization=False)
    forged = buf.getvalue().replace(
        b"cpuq\x08K\x04N", b"cpuq\x08J" + struct.pack("<i", 2**28) + b"N"
    )
    assert forged != buf.getvalue()
    path = tmp_path / "forged.pt"
    path.write_bytes(forged)
    with pytest.raises(ConversionError, match="allocate|memory"):
        convert_sandboxed(path, tmp_path / "models" / "x", "x", caps=Caps(memory_bytes=256 << 20))
    assert _left(tmp_path / "models") == []


def test_the_child_cannot_open_a_socket():
    import subprocess
    import sys

    code = (
        "from gan.convert.sandbox import _block_network; _block_network()\n"
        "import urllib.request\n"
        "urllib.request.urlopen('http://127.0.0.1:9', timeout=1)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0 and "the conversion sandbox has no network" in out.stderr
