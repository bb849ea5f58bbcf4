"""The latent library ("My latents"): each visitor's latents, with a thumbnail, their space,
their model and where they came from, kept on the server by `core.library.ItemStore`.

An entry holds `latent.npy` and `latent.json` (`gan.latents`' writer; the JSON also names the
model: name, family and shapes, so that a latent fed to another model gets a clear message)
and `thumb.png`. Every method takes the caller's owner id (`core.identity.Identity.owner_id`)
and an entry id from that caller's own list; nothing a visitor sends becomes a path.

    library.add(owner_id, "ffhq", Latent("w", ws[:1]), Origin("walk"))  # one call per entry
    files = library.latent_files(owner_id, [entry_id])  # what the API's latent inputs take
"""

from __future__ import annotations

import datetime
import hashlib
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import media
from core.errors import UserInputError
from core.library import Item, ItemStore, clean_name
from gan import latents
from gan.edit.service import latent_dims, render
from gan.generate.faces import Faces
from gan.models import families

THUMB_SIZE = 128
ORIGINS = ("seed", "upload", "projection", "edit", "walk")
LATENT_NPY, LATENT_JSON, THUMB_PNG = "latent.npy", "latent.json", "thumb.png"


@dataclass(frozen=True)
class Origin:
    """Where an entry came from: a `kind` of ORIGINS, and the seed for "seed"."""

    kind: str
    seed: int | None = None

    def default_name(self, when: float) -> str:
        if self.kind == "seed" and self.seed is not None:
            return f"seed {self.seed}"
        stamp = datetime.datetime.fromtimestamp(when).strftime("%H:%M:%S")
        return f"{self.kind} {stamp}"


@dataclass(frozen=True)
class Entry:
    """An entry as the page and the API show it."""

    entry_id: str
    name: str
    space: str
    model: str
    family: str
    shape: str  # "z 100" or "z 512, W+ 14×512": the model's latent shapes
    origin: str
    seed: int | None
    created: float
    thumbnail: Path

    def as_dict(self) -> dict:
        """The API's view: everything but the thumbnail's server path."""
        keys = ("entry_id", "name", "space", "model", "family", "shape", "origin", "seed")
        return {k: getattr(self, k) for k in keys} | {"created": self.created}


def model_meta(name: str, G: nn.Module) -> dict:
    """What an entry records of its model: name, family and latent shapes."""
    z_dim, num_ws, w_dim = latent_dims(G)
    family = families.family_of(G).title
    return {"name": name, "family": family, "z_dim": z_dim, "num_ws": num_ws, "w_dim": w_dim}


def _entry(item: Item) -> Entry:
    m, origin = item.meta.get("model", {}), item.meta.get("origin", {})
    shape = latents.model_shape(m.get("z_dim", 0), m.get("num_ws", 0), m.get("w_dim", 0))
    return Entry(
        item.item_id,
        item.name,
        str(item.meta.get("space", "")),
        str(m.get("name", "")),
        str(m.get("family", "")),
        shape,
        str(origin.get("kind", "")),
        origin.get("seed"),
        item.created,
        item.file(THUMB_PNG),
    )


class LatentLibrary:
    """Service: the visitors' latent libraries. `generator(name)` resolves a model for the
    caller (the studio's, inside the caller's store scope); `output_dir()` gives a fresh
    folder that Gradio serves (copies of entries go there, never the library's own files)."""

    def __init__(
        self,
        store: ItemStore,
        generator: Callable[[str], nn.Module],
        output_dir: Callable[[], Path],
    ) -> None:
        self.store = store
        self.generator = generator
        self.output_dir = output_dir

    # --- adding -------------------------------------------------------------------------------

    def add(
        self,
        owner_id: str,
        model: str,
        latent: latents.Latent,
        origin: Origin,
        image: np.ndarray | None = None,
        name: str | None = None,
    ) -> Entry:
        """One latent (its first vector) as a new entry of `owner_id`, checked against
        `model`'s shapes; its thumbnail is `image` or the face the model makes of it. The
        same latent of the same model is kept once (a rerun, a link opened again): its entry
        is returned. This is the one call every tab uses (a walk point: `Origin("walk")`)."""
        if origin.kind not in ORIGINS:
            raise ValueError(f"unknown origin {origin.kind!r}")
        G = self.generator(model)
        latent = latents.Latent(latent.space, torch.as_tensor(latent.value).detach().cpu())
        value = self._checked(G, latent)
        if image is None:
            image = self._face(G, latent.space, value)
        meta_model = model_meta(model, G)
        stored = latents.Latent(latent.space, value, settings={"model": meta_model})
        npy, text = latents.encode(stored)
        digest = hashlib.sha256(model.encode() + b"\0" + npy).hexdigest()
        if kept := self._kept(owner_id, digest):
            return kept
        thumb = media.png_bytes(media.thumbnail(image, THUMB_SIZE))
        files = {LATENT_NPY: npy, LATENT_JSON: text.encode(), THUMB_PNG: thumb}
        meta = {
            "name": clean_name(name) if name else origin.default_name(self.store.now()),
            "space": latent.space,
            "model": meta_model,
            "origin": {"kind": origin.kind, "seed": origin.seed},
            "digest": digest,
        }
        return _entry(self.store.add(owner_id, files, meta))

    def _kept(self, owner_id: str, digest: str) -> Entry | None:
        """The caller's entry of this latent and model, if there is one."""
        item = next((i for i in self.store.items(owner_id) if i.meta.get("digest") == digest), None)
        return None if item is None else _entry(item)

    def add_faces(
        self, owner_id: str, model: str, faces: Faces, indices: Sequence[int] | None = None
    ) -> list[Entry]:
        """Generated faces (all, or those at `indices`) as entries: w where the model has
        one (the face exactly, truncation included), else z; their seeds as origin."""
        count = len(faces.images)
        chosen = range(count) if indices is None else indices
        added = []
        for i in chosen:
            if not 0 <= int(i) < count:
                raise UserInputError("pick a face first", "msg.error.library_pick")
            space, values = ("w", faces.w) if faces.w is not None else ("z", faces.z)
            seed = faces.seeds[i] if faces.seeds else None
            origin = Origin("seed", seed) if seed is not None else Origin("upload")
            latent = latents.Latent(space, values[int(i) : int(i) + 1])
            added.append(self.add(owner_id, model, latent, origin, faces.images[int(i)]))
        return added

    def add_files(self, owner_id: str, model: str, files: Sequence[str | Path]) -> list[Entry]:
        """Uploaded `.npy`/`.json` latents (each file's first vector) as entries."""
        G = self.generator(model)
        added = []
        for path in files:
            latent = latents.read_latent(path, "", *latent_dims(G))
            if latent is not None:
                added.append(self.add(owner_id, model, latent, Origin("upload")))
        return added

    def add_text(self, owner_id: str, model: str, text: str, origin: Origin) -> Entry:
        """A latent in the export JSON (a projection's, an edit's) as an entry."""
        latent = latents.read_latent(None, text, *latent_dims(self.generator(model)))
        if latent is None:
            raise UserInputError("there is no latent to keep yet")
        return self.add(owner_id, model, latent, origin)

    @staticmethod
    def _checked(G: nn.Module, latent: latents.Latent) -> torch.Tensor:
        z_dim, num_ws, w_dim = latent_dims(G)
        if latent.space == "w":
            if not num_ws:
                raise UserInputError(
                    "w latents need a StyleGAN2 model; this one takes z", "msg.error.w_needs_sg2"
                )
            return latents.validate_w(latent.value, num_ws, w_dim)[:1]
        return latents.validate_z(latent.value, z_dim)[:1]

    @staticmethod
    @torch.no_grad()
    def _face(G: nn.Module, space: str, value: torch.Tensor) -> np.ndarray:
        """The face the model makes of the latent (z mapped at ψ = 1 for a W family)."""
        if space == "z" and families.family_of(G).has_w:
            value = G.mapping(value.to(next(G.parameters()).device), None).cpu()
        return render(G, value)[0]

    # --- reading ------------------------------------------------------------------------------

    def entries(self, owner_id: str) -> list[Entry]:
        """The caller's entries, newest first."""
        return [_entry(item) for item in self.store.items(owner_id)]

    def entry(self, owner_id: str, entry_id: object) -> Entry:
        return _entry(self.store.get(owner_id, entry_id))

    def latent_files(self, owner_id: str, entry_ids: Sequence[object]) -> list[Path]:
        """Copies of the entries' `.json` latents (in the order given), in a fresh output
        folder: what the tabs' latent inputs and the API take."""
        items = [self.store.get(owner_id, entry_id) for entry_id in entry_ids]
        if not items:
            return []
        folder = self.output_dir()
        return [self._copy(item, LATENT_JSON, folder, f"{i:02d}-") for i, item in enumerate(items)]

    def download(self, owner_id: str, entry_id: object) -> list[Path]:
        """Copies of one entry's files (`.npy`, `.json`, thumbnail) to download."""
        item = self.store.get(owner_id, entry_id)
        folder = self.output_dir()
        return [self._copy(item, name, folder) for name in (LATENT_NPY, LATENT_JSON, THUMB_PNG)]

    def thumbnails(self, owner_id: str) -> list[tuple[Path, Entry]]:
        """Copies of the caller's thumbnails (newest first) to show, with their entries."""
        entries = self.entries(owner_id)
        if not entries:
            return []
        folder = self.output_dir()
        shown = []
        for i, entry in enumerate(entries):
            target = folder / f"{i:03d}.png"
            shutil.copyfile(entry.thumbnail, target)
            shown.append((target, entry))
        return shown

    @staticmethod
    def _copy(item: Item, name: str, folder: Path, prefix: str = "") -> Path:
        stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in item.name)[:40] or "latent"
        target = folder / f"{prefix}{stem}{Path(name).suffix}"
        shutil.copyfile(item.file(name), target)
        return target

    # --- changing -----------------------------------------------------------------------------

    def rename(self, owner_id: str, entry_id: object, name: object) -> Entry:
        return _entry(self.store.rename(owner_id, entry_id, name))

    def delete(self, owner_id: str, entry_id: object) -> None:
        self.store.delete(owner_id, entry_id)
