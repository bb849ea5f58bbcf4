"""The data folder: a setting, else a writable /data, else the local checkpoints."""

from __future__ import annotations

from core.paths import (
    data_dir,
    hf_home,
    runs_dir,
    secret_file,
    use_persistent_hf_home,
    visitor_models_dir,
)


def test_setting_wins(tmp_path):
    assert data_dir({"GAN_STUDIO_DATA": str(tmp_path)}, space_data=tmp_path / "none") == tmp_path


def test_writable_space_data_used(tmp_path):
    space = tmp_path / "data"
    space.mkdir()
    assert data_dir({}, space_data=space) == space


def test_else_local_checkpoints(tmp_path):
    env = {"GAN_STUDIO_CHECKPOINTS": str(tmp_path / "ckpt")}
    assert data_dir(env, space_data=tmp_path / "missing") == tmp_path / "ckpt"


def test_layout_and_hf_home(tmp_path):
    assert visitor_models_dir(tmp_path) == tmp_path / "models"
    assert runs_dir(tmp_path) == tmp_path / "runs"
    assert secret_file(tmp_path).parent == tmp_path
    env: dict[str, str] = {"GAN_STUDIO_DATA": str(tmp_path)}
    use_persistent_hf_home(env, tmp_path)
    assert env["HF_HOME"] == str(hf_home(tmp_path))
    local: dict[str, str] = {}
    use_persistent_hf_home(local, tmp_path / "ckpt", space_data=tmp_path / "data")
    assert "HF_HOME" not in local  # a laptop keeps its usual cache
    kept = {"GAN_STUDIO_DATA": str(tmp_path), "HF_HOME": "/elsewhere"}
    use_persistent_hf_home(kept, tmp_path)
    assert kept["HF_HOME"] == "/elsewhere"
