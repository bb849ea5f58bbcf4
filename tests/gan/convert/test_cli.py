"""`python -m gan.convert`: local and Hub sources, the folder it writes, and --push."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from gan.convert import cli, layout
from gan.convert._compat import store
from tests.gan.convert import fakes

PINNED = "0123456789abcdef0123456789abcdef01234567"
LICENSE = "Nvidia Source Code License-NC"


def _nvidia_file(tmp_path, c_dim: int = 2):
    gc, dc = fakes.tiny_g_config(c_dim), fakes.tiny_d_config(c_dim)
    g = fakes.random_state(layout.generator_shapes(gc), seed=4)
    d = fakes.random_state(layout.discriminator_shapes(dc), seed=5)
    path = tmp_path / "network-snapshot-000100.pkl"
    path.write_bytes(fakes.nvidia_pickle_bytes(gc, g, dc, d))
    return path, gc, g, dc, d


def pin(hub, repo_id: str, revision: str = "main") -> str:
    """Serve a pushed branch's files at its commit sha too (the test server keys files by the
    revision string it is asked for)."""
    sha = hub.commit_sha(repo_id, revision)
    hub.repos[(repo_id, sha)] = dict(hub.repos[(repo_id, revision)])
    return sha


def test_cli_writes_a_folder_that_loads(tmp_path, checkpoints):
    path, gc, g, dc, d = _nvidia_file(tmp_path)
    assert cli.main([str(path), "--name", "tiny-sg2", "--license", LICENSE]) == 0
    folder = store.resolve("tiny-sg2")
    assert folder == checkpoints / "tiny-sg2"
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "discriminator.safetensors",
        "generator_train.safetensors",  # the pickle's raw G, which fine-tuning resumes
        "model.safetensors",
    ]
    assert store.read_config(folder) == gc
    weights = store.read_safetensors(folder / "model.safetensors")
    assert weights.keys() == g.keys() and all(torch.equal(weights[k], g[k]) for k in g)
    with safe_open(str(folder / "discriminator.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["config"]) == dc
        assert torch.equal(f.get_tensor("b4.out.weight"), d["b4.out.weight"])
    card = (folder / "README.md").read_text()
    assert LICENSE in card and path.name in card and "StyleGAN2" in card
    assert "conditional on 2 classes" in card
    assert not [p for p in checkpoints.iterdir() if p.name.startswith(".")]  # no temp left


def test_cli_overwrites_atomically_and_takes_a_checkpoints_dir(tmp_path):
    path, *_ = _nvidia_file(tmp_path)
    out = tmp_path / "elsewhere"
    for _ in range(2):
        assert cli.main([str(path), "--name", "m", "--checkpoints", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["m"]
    assert "not given" in (out / "m" / "README.md").read_text()  # no --license


def test_cli_rosinality_source(tmp_path, checkpoints):
    ch = {4: 8, 8: 8, 16: 4}
    path = tmp_path / "550000.pt"
    torch.save({"g_ema": fakes.rosinality_state(16, 6, 2, ch), "latent_avg": torch.ones(6)}, path)
    assert cli.main([str(path), "--name", "ros"]) == 0
    folder = checkpoints / "ros"
    assert not (folder / "discriminator.safetensors").exists()
    weights = store.read_safetensors(folder / "model.safetensors")
    assert torch.equal(weights["mapping.w_avg"], torch.ones(6))
    assert "rosinality" in (folder / "README.md").read_text()


@pytest.mark.parametrize(
    "source, message",
    [
        ("missing.pkl", "neither a file here nor a Hub file"),
        ("owner/repo:net.pkl", "neither a file here nor a Hub file"),
        ("owner/repo@main:../x.pkl", "invalid path"),
    ],
)
def test_cli_bad_sources_exit_2_with_a_message(checkpoints, caplog, source, message):
    assert cli.main([source, "--name", "x"]) == 2
    assert message in caplog.text
    assert not list(checkpoints.iterdir())


def test_cli_bad_name_and_non_network_file(tmp_path, checkpoints, caplog):
    path, *_ = _nvidia_file(tmp_path)
    assert cli.main([str(path), "--name", "../up"]) == 2
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle at all")
    assert cli.main([str(junk), "--name", "x"]) == 2
    assert "neither a network pickle nor a torch checkpoint" in caplog.text


def test_hub_source_at_pinned_revision(tmp_path, checkpoints, hub):
    path, gc, *_ = _nvidia_file(tmp_path, c_dim=0)
    hub.add("nvlabs/tiny", "nets/tiny.pkl", path.read_bytes(), revision=PINNED)
    assert cli.main([f"nvlabs/tiny@{PINNED}:nets/tiny.pkl", "--name", "from-hub"]) == 0
    assert store.read_config(checkpoints / "from-hub") == gc
    card = (checkpoints / "from-hub" / "README.md").read_text()
    assert f"nvlabs/tiny/blob/{PINNED}/nets/tiny.pkl" in card
    assert cli.main(["nvlabs/tiny@main:nets/tiny.pkl", "--name", "other"]) == 2  # not at main


def test_push_then_served_at_a_pinned_revision(tmp_path, checkpoints, hub, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_0000")
    path, gc, g, *_ = _nvidia_file(tmp_path)
    caplog.set_level("INFO")
    assert cli.main([str(path), "--name", "tiny-sg2", "--push", "me/tiny-sg2"]) == 0
    files = hub.repos[("me/tiny-sg2", "main")]
    assert set(files) == {
        "config.json",
        "model.safetensors",
        "discriminator.safetensors",
        "generator_train.safetensors",
        "README.md",
    }
    sha = pin(hub, "me/tiny-sg2")
    assert f"GAN_STUDIO_HUB_MODELS=me/tiny-sg2@{sha}" in caplog.text
    folder = store.resolve(f"me/tiny-sg2@{sha}")
    assert store.read_config(folder) == gc
    weights = store.read_safetensors(folder / "model.safetensors")
    assert all(torch.equal(weights[k], g[k]) for k in g)
    assert "hf_test_token_0000" not in caplog.text


def test_bad_push_repo_is_refused_before_converting(tmp_path, checkpoints, caplog):
    path, *_ = _nvidia_file(tmp_path)
    assert cli.main([str(path), "--name", "x", "--push", "me/x@main"]) == 2
    assert "owner/name" in caplog.text and not list(checkpoints.iterdir())


def test_module_entry_point_help():
    out = subprocess.run(
        [sys.executable, "-m", "gan.convert", "--help"], capture_output=True, text=True, check=True
    )
    assert "owner/repo@revision:path" in out.stdout and "--push" in out.stdout
