"""The model store: local folders, the Hub path against a local Hub server, atomic saves."""

import io
import json
import os
import time

import pytest
import torch
from safetensors.torch import save

from core import store
from core.errors import UserInputError
from gan.loading import load_generator
from tests.conftest import tiny_generator

REPO = "studio-test/tiny-dcgan"


def _publish(hub, generator, revision="main") -> str:
    config = generator.config.to_dict()
    hub.add(REPO, "config.json", json.dumps(config).encode(), revision)
    return hub.add(REPO, "model.safetensors", save(generator.state_dict()), revision)


def test_hub_download_loads_the_same_weights(hub):
    generator = tiny_generator(seed=1)
    _publish(hub, generator)
    loaded = load_generator(f"{REPO}@main", torch.device("cpu"))
    for key, value in generator.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_pinned_revisions_are_distinct(hub):
    old, new = tiny_generator(seed=1), tiny_generator(seed=2)
    sha = _publish(hub, old, revision="a" * 40)
    _publish(hub, new, revision="main")
    z = torch.randn(2, 8)
    pinned = load_generator(f"{REPO}@{sha}", torch.device("cpu"))
    head = load_generator(f"{REPO}@main", torch.device("cpu"))
    with torch.no_grad():
        assert torch.allclose(pinned(z), old(z))
        assert torch.allclose(head(z), new(z))
        assert not torch.allclose(pinned(z), head(z))


def test_cache_is_reused_without_downloading_again(hub):
    _publish(hub, tiny_generator())
    first = store.resolve(f"{REPO}@main")
    gets = hub.count("GET", "model.safetensors")
    assert gets == 1
    assert store.resolve(f"{REPO}@main") == first
    assert hub.count("GET", "model.safetensors") == gets  # only a HEAD to revalidate


def test_cached_model_loads_when_the_hub_goes_away(hub, monkeypatch):
    _publish(hub, tiny_generator())
    folder = store.resolve(f"{REPO}@main")
    hub.stop()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    store.forget_hub_probe()
    start = time.monotonic()
    assert store.resolve(f"{REPO}@main") == folder
    assert time.monotonic() - start < 5  # no 20 s of retries
    hub.start()  # so the fixture can stop it


def test_missing_file_and_missing_repo_are_clear(hub):
    hub.add(REPO, "config.json", b"{}")
    with pytest.raises(store.ModelNotFoundError, match="model.safetensors is not in Hub repo"):
        store.resolve(f"{REPO}@main")
    with pytest.raises(store.ModelNotFoundError, match="config.json is not in Hub repo"):
        store.resolve("studio-test/nothing-here@main")


def test_corrupt_weights_are_a_clear_error(hub):
    generator = tiny_generator()
    hub.add(REPO, "config.json", json.dumps(generator.config.to_dict()).encode())
    hub.add(REPO, "model.safetensors", b"\x00\x01 this is not a safetensors file")
    with pytest.raises(store.ModelLoadError, match="corrupt or not a safetensors file"):
        load_generator(f"{REPO}@main", torch.device("cpu"))


def test_weights_of_the_wrong_shape_are_a_clear_error(hub):
    generator = tiny_generator()
    config = {**generator.config.to_dict(), "ngf": 8}  # says 8, weights are for 4
    hub.add(REPO, "config.json", json.dumps(config).encode())
    hub.add(REPO, "model.safetensors", save(generator.state_dict()))
    with pytest.raises(store.ModelLoadError, match="do not match its config"):
        load_generator(f"{REPO}@main", torch.device("cpu"))


def test_only_safetensors_json_and_md_are_fetched(hub):
    buffer = io.BytesIO()
    torch.save({"x": torch.zeros(1)}, buffer)
    hub.add(REPO, "model.bin", buffer.getvalue())
    with pytest.raises(UserInputError, match="only safetensors/json/md"):
        store.hub_file(store.HubRef.parse(REPO), "model.bin")
    assert hub.count("GET") == 0


def test_unreachable_hub_fails_fast_with_a_clear_message(offline_hub):
    start = time.monotonic()
    with pytest.raises(store.ModelNotFoundError, match="cannot be reached"):
        store.resolve(f"{REPO}@main")
    assert time.monotonic() - start < 5


def test_hub_offline_env_is_honoured(hub, monkeypatch):
    _publish(hub, tiny_generator())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(store.ModelNotFoundError, match="cannot be reached"):
        store.resolve(f"{REPO}@main")
    assert hub.count("GET") == 0


@pytest.mark.parametrize(
    "spec",
    ["../etc/passwd", "owner", "owner/na me", "/abs/path", "owner/..", "a/b/c", "owner/x@rev..x"],
)
def test_repo_ids_are_validated(spec):
    with pytest.raises(UserInputError):
        store.HubRef.parse(spec)


@pytest.mark.parametrize("name", ["../x", ".hidden", "a/b", "", "x" * 65, "a b"])
def test_local_names_are_validated(name, checkpoints):
    with pytest.raises(UserInputError):
        store.resolve(name)


def test_local_models_resolve_first_and_list_by_type(checkpoints):
    generator = tiny_generator()
    store.save_pretrained(
        checkpoints / "mine", generator.config.to_dict(), generator.state_dict(), "# card\n"
    )
    (checkpoints / "broken").mkdir()  # incomplete folders are not models
    store.save_pretrained(checkpoints / "net", {"model_type": "other"}, {"w": torch.zeros(1)}, "")
    assert store.list_local() == ["mine", "net"]
    assert store.list_local(model_type="dcgan-generator") == ["mine"]
    assert store.resolve("mine") == checkpoints / "mine"
    with pytest.raises(store.ModelNotFoundError, match="no model 'broken'"):
        store.resolve("broken")


def test_atomic_save_replaces_whole_folders(checkpoints):
    target = checkpoints / "model"
    store.save_pretrained(target, {"v": 1}, {"w": torch.ones(2)}, "one")
    store.save_pretrained(target, {"v": 2}, {"w": torch.full((2,), 2.0)}, "two")
    assert json.loads((target / "config.json").read_text()) == {"v": 2}
    assert store.read_safetensors(target / "model.safetensors")["w"].tolist() == [2.0, 2.0]
    assert sorted(p.name for p in checkpoints.iterdir()) == ["model"]  # no temp leftovers


def test_a_failed_save_leaves_the_previous_model_intact(checkpoints):
    target = checkpoints / "model"
    store.save_pretrained(target, {"v": 1}, {"w": torch.ones(2)}, "one")

    def crash(folder):
        (folder / "config.json").write_text("{half")
        raise KeyboardInterrupt  # e.g. the process is stopped mid-write

    with pytest.raises(KeyboardInterrupt):
        store.atomic_write_dir(target, crash)
    assert json.loads((target / "config.json").read_text()) == {"v": 1}
    assert sorted(p.name for p in checkpoints.iterdir()) == ["model"]


def test_an_interrupted_swap_is_recovered(checkpoints):
    target = checkpoints / "model"
    store.save_pretrained(target, {"v": 1}, {"w": torch.ones(2)}, "one")
    os.rename(target, checkpoints / ".model.old-deadbeef")  # killed between the two renames
    assert store.list_local() == ["model"]
    assert json.loads((target / "config.json").read_text()) == {"v": 1}


def test_configured_hub_models_skip_bad_entries(monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_HUB_MODELS", "a/b@" + "c" * 40 + ", ../bad, x/y")
    assert [str(r) for r in store.configured_hub_models()] == ["a/b@" + "c" * 40, "x/y@main"]
