"""Push to Hub against the local Hub-compatible server: files land, the token is never shown."""

from __future__ import annotations

import logging

import pytest
import torch

from core import publish, store
from core.errors import UserInputError
from tests.conftest import tiny_generator

TOKEN = "hf_secret_token_123456"


def _save_tiny(name: str) -> None:
    G = tiny_generator()
    store.save_pretrained(
        store.checkpoints_dir() / name, G.config.to_dict(), G.state_dict(), "# tiny\n"
    )


def test_push_uploads_folder_and_sends_token(checkpoints, hub, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    _save_tiny("tiny-ft")
    caplog.set_level(logging.DEBUG)
    url = publish.push_to_hub("tiny-ft", "me/tiny-ft")
    files = hub.repos[("me/tiny-ft", "main")]
    assert {"config.json", "model.safetensors", "README.md"} <= set(files)
    assert files["config.json"] == (checkpoints / "tiny-ft" / "config.json").read_bytes()
    assert f"Bearer {TOKEN}" in hub.auth_headers
    assert TOKEN not in caplog.text and TOKEN not in url
    # what was pushed loads back through the store
    folder = store.resolve("me/tiny-ft@main")
    weights = store.read_safetensors(folder / store.WEIGHTS_NAME)
    assert torch.equal(weights["main.0.weight"], tiny_generator().state_dict()["main.0.weight"])


def test_push_token_from_argument_is_not_echoed_in_errors(checkpoints, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(UserInputError, match="no local model") as err:
        publish.push_to_hub("missing", "me/x", token=TOKEN)
    assert TOKEN not in str(err.value)
    _save_tiny("tiny-ft")
    with pytest.raises(UserInputError, match="token is needed"):
        publish.push_to_hub("tiny-ft", "me/tiny-ft")
    hub.stop()  # an unreachable Hub: a clear error without the token in it
    with pytest.raises(UserInputError) as err:
        publish.push_to_hub("tiny-ft", "me/tiny-ft", token=TOKEN)
    assert TOKEN not in str(err.value)


def test_push_rejects_bad_repo_ids(checkpoints, monkeypatch):
    _save_tiny("tiny-ft")
    for bad in ["", "noslash", "../etc", "me/x@dev"]:
        with pytest.raises(UserInputError):
            publish.push_to_hub("tiny-ft", bad, token=TOKEN)
