"""My latents through `gradio_client`, offline: faces from seeds land in the library, an entry's
file works in Generate, Edit and Judge, and another model's latent gets a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from tests.ui.test_edit_project_judge_api import models  # noqa: F401 (a fixture)

BUNDLED = "dcgan-digiface"


def entries_named(client, *names: str) -> dict[str, dict]:
    """The newest entry of each name (the session app's library is shared by its tests)."""
    _, entries = client.predict(api_name="/library_list")
    found: dict[str, dict] = {}
    for entry in entries:  # newest first
        found.setdefault(entry["name"], entry)
    return {name: found[name] for name in names}


def entry_json(client, entry: dict) -> str:
    _, latent_json, _ = client.predict(entry_id=entry["entry_id"], api_name="/library_files")
    return latent_json


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_faces_from_seeds_land_in_my_latents_and_come_back_the_same(client, models):  # noqa: F811
    faces, _, _ = client.predict(
        seeds="7, 11", model=BUNDLED, save_to_library=True, api_name="/generate"
    )
    saved = entries_named(client, "seed 7", "seed 11")
    assert {e["space"] for e in saved.values()} == {"z"}
    assert {e["model"] for e in saved.values()} == {BUNDLED}
    assert saved["seed 7"]["origin"] == "seed" and saved["seed 7"]["seed"] == 7
    files = [handle_file(entry_json(client, saved[n])) for n in ("seed 11", "seed 7")]
    again, _, _ = client.predict(latent_files=files, model=BUNDLED, api_name="/generate")
    # The library's latents, in the order given, are the seeds' faces.
    assert np.array_equal(pixels(again[0]["image"]), pixels(faces[1]["image"]))
    assert np.array_equal(pixels(again[1]["image"]), pixels(faces[0]["image"]))


def test_an_entry_works_in_edit_and_judge_and_an_edit_goes_in(client, models):  # noqa: F811
    client.predict(seeds="5", model="tiny-judged", save_to_library=True, api_name="/generate")
    latent = entry_json(client, entries_named(client, "seed 5")["seed 5"])
    moved = {"model": "tiny-judged", "direction_0": 1.5, "api_name": "/edit"}
    from_entry, *_ = client.predict(latent_file=handle_file(latent), **moved)
    from_seed, *_ = client.predict(seed=5, **moved)
    assert np.array_equal(pixels(from_entry), pixels(from_seed))
    _, entries = client.predict(api_name="/library_list")
    assert entries[0]["origin"] == "edit" and entries[0]["model"] == "tiny-judged"
    logits, _, table = client.predict(
        model="tiny-judged", seeds="5", latent_files=[handle_file(latent)], api_name="/judge"
    )
    assert len(logits) == 2 and logits[0] == pytest.approx(logits[1], abs=1e-5)
    assert "latent 1" in table


def test_another_models_latent_is_a_clear_message(client, models):  # noqa: F811
    client.predict(seeds="9", model=BUNDLED, save_to_library=True, api_name="/generate")
    latent = entry_json(client, entries_named(client, "seed 9")["seed 9"])
    assert json.loads(Path(latent).read_text())["model"]["family"] == "DCGAN"
    for api, args in (
        ("/generate", {"latent_files": [handle_file(latent)]}),
        ("/edit", {"latent_file": handle_file(latent)}),
    ):
        with pytest.raises(Exception) as e:
            client.predict(model="tiny-sg2", api_name=api, **args)
        text = str(e.value)
        assert f"this latent belongs to '{BUNDLED}', a DCGAN (z 100)" in text, text
        assert "this model takes z " in text and "W+" in text
        assert "/" not in text.split("belongs")[1]  # no server path


def test_rename_delete_and_add_files(client, models, tmp_path):  # noqa: F811
    for _ in range(2):  # the same latent is kept once
        client.predict(seeds="13", model=BUNDLED, save_to_library=True, api_name="/generate")
    _, entries = client.predict(api_name="/library_list")
    assert [e["name"] for e in entries].count("seed 13") == 1
    entry = entries_named(client, "seed 13")["seed 13"]
    _, entries = client.predict(entry_id=entry["entry_id"], name="kept", api_name="/library_rename")
    assert entries_named(client, "kept")["kept"]["entry_id"] == entry["entry_id"]
    npy = tmp_path / "z.npy"
    np.save(npy, np.zeros((1, 100), np.float32))
    _, entries = client.predict(
        latent_files=[handle_file(str(npy))], model=BUNDLED, api_name="/library_add"
    )
    assert entries[0]["origin"] == "upload" and entries[0]["space"] == "z"
    _, entries = client.predict(entry_id=entry["entry_id"], api_name="/library_delete")
    assert entry["entry_id"] not in {e["entry_id"] for e in entries}
    with pytest.raises(Exception, match="no such entry"):
        client.predict(entry_id=entry["entry_id"], api_name="/library_files")
