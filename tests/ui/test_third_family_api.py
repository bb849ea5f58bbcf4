"""Acceptance of the family registry: a toy third family (tests/gan/models/toy_family.py),
registered by this test alone, shows in the model list and generates, interpolates, edits
(SeFa over its first layer) and judges through the API, and fine-tunes with a toy recipe
registered here (`register_recipe`), with no change outside its files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gan.models import families
from tests.gan.models.toy_family import TOY, toy_modules
from ui.header import ModelChoices

NAME = "toy-mlp-faces"


@pytest.fixture
def toy(checkpoints: Path):
    """The toy family registered, and one toy model (G and D) saved in the checkpoints."""
    families.register(TOY)
    G, D = toy_modules(3)
    families.save(checkpoints / NAME, G, "G", card="# toy\n")
    families.save(checkpoints / NAME, D, "D")
    yield G, D
    families.unregister(TOY.name)


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def expected_faces(G, seeds: list[int]) -> np.ndarray:
    z = torch.stack([torch.randn(6, generator=torch.Generator().manual_seed(s)) for s in seeds])
    with torch.no_grad():
        images = G(z).clamp(-1, 1)
    return ((images + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def test_the_toy_family_shows_in_the_model_list(app_services, toy):
    assert NAME in app_services.studio.model_choices()
    assert NAME in ModelChoices(app_services.studio, app_services.guard).visible()


def test_the_toy_family_generates_and_interpolates(client, toy):
    G, _ = toy
    gallery, _files, info = client.predict(seeds="1, 2", model=NAME, api_name="/generate")
    assert len(gallery) == 2 and NAME in info
    got = pixels(gallery[0]["image"])
    assert got.shape == (8, 8, 3)
    np.testing.assert_allclose(got.astype(int), expected_faces(G, [1])[0].astype(int), atol=1)
    _strip, gif, _mp4, _, _ = client.predict(
        seeds="1, 2", frames=4, mode="lerp", model=NAME, api_name="/interpolate"
    )
    with Image.open(gif) as animation:
        assert animation.n_frames == 4


def test_the_toy_family_edits_along_sefa_directions_of_its_first_layer(client, toy):
    still, *_ = client.predict(model=NAME, seed=3, api_name="/edit")
    moved, _strip, files, latent, info = client.predict(
        model=NAME, seed=3, direction_0=2.0, api_name="/edit"
    )
    assert not np.array_equal(pixels(moved), pixels(still))
    assert len(json.loads(latent)["z"][0]) == 6 and "+2σ on direction #0" in info
    assert {Path(f).name for f in files} >= {"edited.npy", "edited.json"}


def test_the_toy_family_judges_with_its_own_d(client, toy):
    _, D = toy
    logits, gallery, _table = client.predict(images=[], model=NAME, seeds="1-3", api_name="/judge")
    with torch.no_grad():
        faces = torch.from_numpy(expected_faces(toy[0], [1, 2, 3])).permute(0, 3, 1, 2)
        expected = D(faces.float() / 127.5 - 1.0).tolist()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    assert len(gallery) == 3


class ToyTrainer:
    """Plain GAN steps on the toy G and D (non-saturating loss, Adam)."""

    def __init__(self, G, D, images: torch.Tensor) -> None:
        self.G, self.D, self.images, self.step = G.train(), D.train(), images, 0
        self.G_ema, self.nz, self.image_size = G, G.config.z_dim, G.config.image_size
        self.opt_g = torch.optim.Adam(G.parameters(), lr=0.01)
        self.opt_d = torch.optim.Adam(D.parameters(), lr=0.01)

    def train_step(self, real: torch.Tensor):
        from gan.finetune.trainer import StepLosses

        fake = self.G(torch.randn(len(real), self.nz))
        loss_d = F.softplus(self.D(fake.detach())).mean() + F.softplus(-self.D(real)).mean()
        self.opt_d.zero_grad(), loss_d.backward(), self.opt_d.step()
        loss_g = F.softplus(-self.D(fake)).mean()
        self.opt_g.zero_grad(), loss_g.backward(), self.opt_g.step()
        self.step += 1
        return StepLosses(loss_d.item(), loss_g.item(), False)

    @torch.no_grad()
    def samples(self, z: torch.Tensor) -> np.ndarray:
        return ((self.G(z).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


class ToyRecipe:
    """A fine-tune recipe registered by this test alone (`register_recipe`)."""

    key = TOY.recipe

    def defaults(self, resolution: int, device):
        from gan.finetune.config import FinetuneConfig

        return FinetuneConfig(steps=5, batch_size=4, sample_every=5, kid_samples=0, n_samples=4)

    def build(self, job, device, folder: Path):
        G, D = families.load(folder, "G"), families.load(folder, "D")
        state = {"base_model": job.base, "steps_done": 0, "history": [], "kid": {}}
        return ToyTrainer(G, D, job.images), state, []

    def step(self, trainer: ToyTrainer, real: torch.Tensor):
        return trainer.train_step(real.float() / 127.5 - 1)

    def save(self, target: Path, trainer: ToyTrainer, state: dict, resume) -> Path:
        families.save(target, trainer.D, "D")
        return families.save(target, trainer.G, "G", card=f"# {target.name}\n")


def test_the_toy_family_fine_tunes_with_a_recipe_registered_here(checkpoints, toy):
    from gan.finetune import recipes
    from gan.finetune.config import FinetuneJob
    from gan.finetune.loop import run_finetune

    recipes.register_recipe(TOY.recipe, ToyRecipe())
    try:
        config = recipes.recipe_for(TOY.recipe).defaults(8, "cpu")
        images = torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8)
        job = FinetuneJob(images, "toy-tuned", NAME, config)
        events = list(run_finetune(job, torch.device("cpu"), report_every_s=60))
    finally:
        recipes._REGISTRY.pop(TOY.recipe, None)  # no unregister: the test's own entry
    assert events[-1].done and events[-1].message == "finished"
    tuned = families.load(checkpoints / "toy-tuned", "G")
    assert families.family_of(tuned) is TOY
    pairs = zip(tuned.parameters(), toy[0].parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)  # it trained
