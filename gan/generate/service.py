"""The face service the app calls: load generators by name, generate, interpolate, save files."""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import media, store
from core.errors import UserInputError
from core.images import to_uint8
from core.lanes import PriorityGate
from core.paths import OUTPUT_ROOT_NAME
from gan import latents
from gan.generate.faces import (
    NOISE_MODES,
    Faces,
    FacesRequest,
    SG2Settings,
    StyleMix,
    check_cutoff,
    check_layers,
    face_names,
    latent_files,
    mix_layers,
    one_hot,
)
from gan.generate.keyframes import Keyframe, parse_keyframes
from gan.loading import load_generator
from gan.models import families, stylegan2

log = logging.getLogger(__name__)

Model = str | nn.Module  # a model's name, or the generator a request already resolved

DISPLAY_SIZE = 256
THUMBNAIL_SIZE = 512  # gallery faces above this are shown downscaled; the zip keeps them native
OUTPUT_TTL_S = 3600
PRUNE_INTERVAL_S = 60.0  # old output folders are looked for at most this often
NO_MODEL_INFO = {"stylegan2": False, "c_dim": 0, "num_ws": 0, "resolution": 0}
NO_MODEL_INFO |= {"noise_inputs": False, "input_transform": False}
MAX_MIX_SEEDS = 8  # per side: an 8 x 8 figure is 81 images


class FaceStudio:
    """Holds loaded generators (one per name, reloaded when its weights change on disk)."""

    def __init__(
        self,
        device: torch.device,
        output_root: Path | None = None,
        gate: PriorityGate | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`gate` (the app's priority gate) runs every forward pass as cheap work; `clock`
        (monotonic seconds) paces the pruning of old output folders."""
        self.device = device
        self.output_root = output_root or Path(tempfile.gettempdir()) / OUTPUT_ROOT_NAME
        self.gate = gate
        self._cache: dict[str, tuple[tuple, nn.Module]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._prune_lock = threading.Lock()
        self._next_prune = -float("inf")
        self._pruner: threading.Thread | None = None

    # --- models -----------------------------------------------------------------------------

    def model_choices(self) -> list[str]:
        """Local generators (new fine-tunes appear at once), then configured Hub models and
        Hub network files (converted on first use)."""
        local = sorted(n for kind in families.generator_types() for n in store.list_local(kind))
        hub = [*store.configured_hub_models(), *store.configured_hub_files()]
        return local + [str(ref) for ref in hub]

    def generator(self, name: str) -> nn.Module:
        if not name:
            raise UserInputError("choose a model")
        folder = store.resolve(name)
        weights = folder / store.WEIGHTS_NAME
        key = (str(folder), weights.stat().st_mtime_ns, weights.stat().st_size)
        with self._lock:
            cached = self._cache.get(name)
            if cached and cached[0] == key:
                return cached[1]
            generator = load_generator(name, self.device)
            generator = families.family_of(generator).prepare(generator)
            self._cache[name] = (key, generator)
            log.info("loaded %s on %s", name, self.device)
            return generator

    def resolve(self, model: Model) -> nn.Module:
        """A request's generator: loaded by name once (`generator`), then passed down."""
        return model if isinstance(model, nn.Module) else self.generator(model)

    def nz(self, model: Model) -> int:
        generator = self.resolve(model)
        return families.family_of(generator).z_dim(generator)

    def stylegan2(self, model: Model, what: str) -> nn.Module:
        """The generator, whose family `what` needs to have style mixing (a W space)."""
        generator = self.resolve(model)
        if not families.family_of(generator).style_mixing:
            family = families.family_of(generator).title
            name = model if isinstance(model, str) else "this model"
            raise UserInputError(f"{what} needs a StyleGAN2 or 3 model: {name} is a {family}")
        return generator

    def model_info(self, name: str) -> dict:
        """What the tabs show per model: `stylegan2` (a W space), `c_dim`, `num_ws`,
        `resolution`, `noise_inputs` and `input_transform` (the camera sliders)."""
        generator = self.generator(name)
        family = families.family_of(generator)
        if not family.has_w:
            return NO_MODEL_INFO
        return {
            "stylegan2": True,
            "noise_inputs": family.noise_inputs,
            "input_transform": family.input_transform,
            "c_dim": families.class_count(generator),
            "num_ws": families.w_shape(generator)[0],
            "resolution": families.image_size(generator),
        }

    # --- inference --------------------------------------------------------------------------

    @torch.inference_mode()
    def synthesize(self, model: Model, z: torch.Tensor, batch_size: int = 64) -> np.ndarray:
        """z (N, nz) -> uint8 images (N, H, W, 3)."""
        generator = self.resolve(model)
        if families.family_of(generator).has_w:
            return self.render(generator, self.map(generator, z))
        with self._cheap():
            chunks = [
                generator(chunk.to(self.device)).float().cpu().numpy()
                for chunk in z.split(batch_size)
            ]
        return to_uint8(np.concatenate(chunks))

    @torch.no_grad()  # not inference_mode: callers mix and edit the ws they get
    def map(self, model: Model, z: torch.Tensor, s: SG2Settings | None = None) -> torch.Tensor:
        """StyleGAN2: z (N, z_dim) -> ws (N, num_ws, w_dim) on the CPU, truncated toward w_avg."""
        G, s = self.resolve(model), s or SG2Settings()
        cutoff = check_cutoff(s.truncation_cutoff, G.num_ws)
        psi = latents.check_truncation(s.truncation_psi)
        c = one_hot(s.class_idx, G.c_dim, len(z), self.device)
        ws = G.mapping(z.to(self.device), c, truncation_psi=psi, truncation_cutoff=cutoff)
        return ws.float().cpu()

    @torch.no_grad()
    def render(
        self,
        model: Model,
        ws: torch.Tensor,
        noise_mode: str = "const",
        batch_size: int = 16,
        cameras: list[families.Camera] | None = None,
    ) -> np.ndarray:
        """W family: ws (N, num_ws, w_dim) -> uint8 images (N, H, W, 3); `cameras`, one per
        image, move a StyleGAN3's pictures (other families ignore them). The camera goes in
        with the call, so concurrent requests never see each other's."""
        G = self.resolve(model)
        if noise_mode not in NOISE_MODES:
            raise UserInputError(f"noise_mode must be one of {', '.join(NOISE_MODES)}")
        cameras = cameras or [families.NO_CAMERA] * len(ws)
        with self._cheap():
            chunks = [
                G.synthesis(
                    chunk.to(self.device),
                    noise_mode=noise_mode,
                    **families.camera_kwargs(G, cameras[i : i + batch_size]),
                )
                .float()
                .cpu()
                .numpy()
                for i, chunk in zip(
                    range(0, len(ws), batch_size), ws.split(batch_size), strict=True
                )
            ]
        return to_uint8(np.concatenate(chunks))

    def _cheap(self):
        """The priority gate's cheap slot (heavy jobs wait between iterations meanwhile)."""
        return self.gate.cheap() if self.gate else contextlib.nullcontext()

    def generate(
        self,
        model: Model,
        seeds: list[int] | None = None,
        z: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        sg2: SG2Settings | None = None,
        w: torch.Tensor | None = None,
    ) -> Faces:
        """Faces from seeds, explicit z or (StyleGAN2) explicit w; exactly one of them.
        `sg2` (StyleGAN2 only; ψ there is `truncation_psi`) is ignored by DCGANs."""
        G = self.resolve(model)
        if families.family_of(G).has_w:
            return self._generate_sg2(
                G, seeds, z, w, replace(sg2 or SG2Settings(), truncation_psi=truncation_psi)
            )
        if w is not None:
            raise UserInputError("w latents need a StyleGAN2 model; this one takes z")
        nz = self.nz(G)
        if z is None:
            if not seeds:
                raise UserInputError("give seeds or a latent vector")
            z = latents.seeds_to_z(seeds, nz)
        else:
            z = latents.validate_z(z, nz)
        z = latents.truncate(z, truncation_psi)
        return Faces(self.synthesize(G, z), z, seeds, truncation_psi)

    def _generate_sg2(
        self,
        G: nn.Module,
        seeds: list[int] | None,
        z: torch.Tensor | None,
        w: torch.Tensor | None,
        s: SG2Settings,
    ) -> Faces:
        if w is not None:  # already truncated: rendered as it is
            w = latents.validate_w(w, G.num_ws, G.w_dim)
        else:
            if z is None and not seeds:
                raise UserInputError("give seeds or a latent vector")
            z = latents.seeds_to_z(seeds, G.z_dim) if z is None else latents.validate_z(z, G.z_dim)
            w = self.map(G, z, s)
        images = self.render(G, w, s.noise_mode, cameras=s.cameras(len(w)))
        return Faces(images, z, seeds, s.truncation_psi, w, s.export())

    def keyframes(self, model: Model, keys: list[Keyframe], s: SG2Settings) -> latents.Latent:
        """The keyframes' latents in order (seeds drawn, files read by `read_latent`): z (K,
        z_dim) when every one is a z, else w (K, num_ws, w_dim) with the z ones mapped by `s`
        (a w keyframe needs a W family: the reader says so)."""
        G = self.resolve(model)
        found = self._read_keyframes(G, keys)
        if all(x.space == "z" for x in found):
            return latents.Latent("z", torch.cat([x.value for x in found]))
        return latents.Latent(
            "w", torch.cat([x.value if x.space == "w" else self.map(G, x.value, s) for x in found])
        )

    def interpolate(
        self,
        model: Model,
        seeds: list[Keyframe] | latents.Latent,
        frames: int,
        mode: str = "slerp",
        loop: bool = False,
        truncation_psi: float = 1.0,
        space: str = "z",
        sg2: SG2Settings | None = None,
        max_frames: int = latents.MAX_TOTAL_FRAMES,
    ) -> np.ndarray:
        """Frames (T, H, W, 3) along a lerp/slerp/cubic path through the keyframes (seeds,
        latent files, or their latents). A W family walks in Z (then maps each frame) or, with
        `space="w"` or any w keyframe, in W (a line, or the cubic path)."""
        walk = self.walk(model, seeds, frames, mode, loop, truncation_psi, space, sg2, max_frames)
        return self.render_walk(model, walk, sg2)

    def walk(
        self,
        model: Model,
        seeds: list[Keyframe] | latents.Latent,
        frames: int,
        mode: str = "slerp",
        loop: bool = False,
        truncation_psi: float = 1.0,
        space: str = "z",
        sg2: SG2Settings | None = None,
        max_frames: int = latents.MAX_TOTAL_FRAMES,
    ) -> latents.Latent:
        """The latents of `interpolate`'s frames, one per frame: the ws of a W family (mapped
        and truncated), else the truncated z."""
        if space not in ("z", "w"):
            raise UserInputError(f"space must be 'z' or 'w', not {space!r}")
        G = self.resolve(model)
        s = replace(sg2 or SG2Settings(), truncation_psi=truncation_psi)
        keys = seeds if isinstance(seeds, latents.Latent) else self.keyframes(G, seeds, s)
        if len(keys.value) < 2:
            raise UserInputError("interpolation needs at least two seeds, e.g. `1, 2`")
        if not families.family_of(G).has_w:  # truncation scales z
            z = latents.truncate(keys.value, truncation_psi)
            return latents.Latent(
                "z", _capped(latents.interpolation_path(z, frames, mode, loop), max_frames)
            )
        if keys.space == "z" and space == "z":
            path = latents.interpolation_path(keys.value, frames, mode, loop)
            return latents.Latent("w", self.map(G, _capped(path, max_frames), s))
        # W is not Gaussian: straight lines (Karras et al. 2019, sec. 4.2, lerp in W)
        w = keys.value if keys.space == "w" else self.map(G, keys.value, s)
        path = latents.interpolation_path(
            w.flatten(1), frames, "cubic" if mode == "cubic" else "lerp", loop
        )
        return latents.Latent("w", _capped(path, max_frames).view(-1, *w.shape[1:]))

    def render_walk(
        self,
        model: Model,
        walk: latents.Latent,
        sg2: SG2Settings | None = None,
        frame: int | None = None,
    ) -> np.ndarray:
        """A `walk`'s frames, or only its frame number `frame` (0-based); a StyleGAN3's camera
        moves in equal steps from the walk's first frame to its last."""
        picked = slice(None) if frame is None else slice(frame, frame + 1)
        if walk.space == "z":
            return self.synthesize(model, walk.value[picked])
        s = sg2 or SG2Settings()
        cameras = s.cameras(len(walk.value))[picked]
        return self.render(model, walk.value[picked], s.noise_mode, cameras=cameras)

    def style_mix(
        self,
        model: Model,
        row_seeds: list[Keyframe],
        column_seeds: list[Keyframe],
        layers: list[int],
        sg2: SG2Settings | None = None,
    ) -> StyleMix:
        """Each row's ws with the ws at `layers` taken from each column (StyleGAN, Fig. 3); rows
        and columns are seeds or latent files (z mapped, w as it is)."""
        G, s = self.stylegan2(model, "style mixing"), sg2 or SG2Settings()
        layers = check_layers(layers, G.num_ws)
        row_ws, row_labels = self.keyframe_ws(G, row_seeds, s)
        col_ws, col_labels = self.keyframe_ws(G, column_seeds, s)
        rows, cols = len(row_ws), len(col_ws)
        if max(rows, cols) > MAX_MIX_SEEDS:
            raise UserInputError(
                "too many seeds: at most {count} at once",
                "msg.error.too_many_seeds",
                count=MAX_MIX_SEEDS,
            )
        mixed_ws = stylegan2.mix_styles(
            row_ws.repeat_interleave(cols, dim=0), col_ws.repeat(rows, 1, 1), layers
        )
        images = self.render(G, torch.cat([row_ws, col_ws, mixed_ws]), s.noise_mode)
        mixed = images[rows + cols :].reshape(rows, cols, *images.shape[1:])
        return StyleMix(
            images[:rows],
            images[rows : rows + cols],
            mixed,
            row_labels,
            col_labels,
            layers,
        )

    def _read_keyframes(self, G: nn.Module, keys: list[Keyframe]) -> list[latents.Latent]:
        """Each keyframe's latent: a seed's z, or a file through the one reader."""
        dims = (self.nz(G), *families.w_shape(G))
        return [
            latents.Latent("z", latents.seeds_to_z([k], dims[0]), [k])
            if isinstance(k, int)
            else latents.read_latent(k, "", *dims)
            for k in keys
        ]

    def keyframe_ws(
        self, model: Model, keys: list[Keyframe], s: SG2Settings
    ) -> tuple[torch.Tensor, list[int | str]]:
        """The ws (K, num_ws, w_dim) of seeds and latent files, in order, and their labels (a
        seed, or the file's name; `name[i]` for the i-th latent of a file holding several)."""
        G = self.resolve(model)
        found = self._read_keyframes(G, keys)
        ws = [x.value if x.space == "w" else self.map(G, x.value, s) for x in found]
        return torch.cat(ws), [lab for k, w in zip(keys, ws, strict=True) for lab in _labels(k, w)]

    def generate_request(self, name: str, request: FacesRequest) -> tuple[Faces, list[Path]]:
        """The faces of a request and their gallery PNGs (`save_gallery`)."""
        faces = self.faces_request(name, request)
        return faces, self.save_gallery(faces)

    def zip_request(self, name: str, request: FacesRequest) -> Path:
        """The same faces as `generate_request` (it is deterministic) in one zip (`save_zip`)."""
        return self.save_zip(self.faces_request(name, request))

    def faces_request(self, model: Model, request: FacesRequest) -> Faces:
        """The faces of a request (seed text, pasted JSON or an uploaded latent file)."""
        r, z, w, seed_list = request, None, None, None
        G = self.resolve(model)
        dims = (self.nz(G), *families.w_shape(G))
        if r.latent_files:
            z, w = self._from_files(G, r.latent_files, r.sg2)
        elif given := latents.read_latent(r.latent_file, r.latent_vector, *dims):
            z, w = (given.value, None) if given.space == "z" else (None, given.value)
        if z is None and w is None:
            seed_list = latents.parse_seeds(r.seeds)
        return self.generate(G, seed_list, z, r.truncation_psi, r.sg2, w)

    def compare_request(
        self, name: str, other: str, request: FacesRequest
    ) -> tuple[Faces, Faces, Path, Path]:
        """The same seeds, or the same latent file, through two models (a base model and its
        fine-tune): (faces of each, a grid PNG of each at one cell size, for a before/after
        slider). A latent file must fit both models' latent spaces."""
        G, H = self.resolve(name), self.resolve(other)
        faces = self.faces_request(G, request)
        try:
            other_faces = self.faces_request(H, request)
        except UserInputError as e:
            if not (request.latent_file or request.latent_vector):
                raise
            raise UserInputError(
                "this latent fits {model} but not {other}: their latent spaces differ ({reason})",
                "msg.error.compare_spaces",
                model=name,
                other=other,
                reason=e.phrase,
            ) from e
        cell = max(faces.images.shape[1], other_faces.images.shape[1])
        folder = self.output_dir()
        grids = [
            media.save_png(media.grid(_resized(f.images, cell)), folder / f"{label}.png")
            for f, label in ((faces, "before"), (other_faces, "after"))
        ]
        return faces, other_faces, *grids

    def _from_files(
        self, G: nn.Module, files: tuple, sg2: SG2Settings | None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(z, None) or (None, w) from several latent files, in order; z files are mapped
        where another file is a w (a W family takes both)."""
        dims = (self.nz(G), *families.w_shape(G))
        found = [latents.read_latent(f, "", *dims) for f in files if f]
        found = [f for f in found if f is not None]
        if not found:
            return None, None
        if sum(len(f.value) for f in found) > latents.MAX_SEEDS:
            count = latents.LATENT_COUNT
            raise UserInputError(count, "msg.error.latent_count", max=latents.MAX_SEEDS)
        if all(f.space == "z" for f in found):
            return torch.cat([f.value for f in found]), None
        s = sg2 or SG2Settings()
        ws = [f.value if f.space == "w" else self.map(G, f.value, s) for f in found]
        return None, torch.cat(ws)

    def interpolate_request(
        self,
        name: str,
        seeds: str,
        frames: int,
        mode: str = "slerp",
        loop: bool = False,
        truncation_psi: float = 1.0,
        fps: int = 12,
        space: str = "z",
        sg2: SG2Settings | None = None,
        latent_files: list[str | Path] | None = None,
        max_frames: int = latents.MAX_TOTAL_FRAMES,
    ) -> tuple[np.ndarray, tuple[Path, Path, Path], int, bool]:
        """Frames between keyframes (seed text `1, 2, 3`, latent files, or both as
        `gan.generate.keyframes` reads them), saved as a strip, GIF and MP4; (frames, files,
        keyframe count, whether the walk was in W)."""
        G = self.resolve(name)
        s = replace(sg2 or SG2Settings(), truncation_psi=truncation_psi)
        keys = self.keyframes(G, parse_keyframes(seeds, latent_files, max_count=16), s)
        images = self.interpolate(
            G, keys, frames, mode, loop, truncation_psi, space, sg2, max_frames
        )
        fps = int(min(max(fps, 1), 60))
        in_w = (space == "w" or keys.space == "w") and families.family_of(G).has_w
        return images, self.save_animation(images, fps), len(keys.value), in_w

    def walk_point_request(
        self,
        name: str,
        seeds: str,
        frames: int,
        frame: int,
        mode: str = "slerp",
        loop: bool = False,
        truncation_psi: float = 1.0,
        space: str = "z",
        sg2: SG2Settings | None = None,
        latent_files: list[str | Path] | None = None,
        max_frames: int = latents.MAX_TOTAL_FRAMES,
    ) -> tuple[latents.Latent, np.ndarray]:
        """Frame number `frame` (1 = the first) of the walk `interpolate_request` makes from
        the same settings: its latent (w of a W family, else z) and its face."""
        G = self.resolve(name)
        s = replace(sg2 or SG2Settings(), truncation_psi=truncation_psi)
        keys = self.keyframes(G, parse_keyframes(seeds, latent_files, max_count=16), s)
        walk = self.walk(G, keys, frames, mode, loop, truncation_psi, space, sg2, max_frames)
        count = len(walk.value)
        if not 1 <= int(frame) <= count:
            raise UserInputError(
                "pick a frame from 1 to {count}", "msg.error.walk_frame", count=count
            )
        i = int(frame) - 1
        image = self.render_walk(G, walk, sg2, i)[0]
        return latents.Latent(walk.space, walk.value[i : i + 1]), image

    def style_mix_request(
        self,
        name: str,
        row_seeds: str,
        column_seeds: str,
        preset: str = "coarse",
        layers: str = "",
        sg2: SG2Settings | None = None,
        row_latent_files: list[str | Path] | None = None,
        column_latent_files: list[str | Path] | None = None,
    ) -> tuple[StyleMix, Path, Path]:
        """A style-mixing figure from seed text (or latent files, used instead of the seeds when
        given) and a preset (`coarse`, `middle`, `fine`) or, with preset `custom`, a ws range
        such as `0-3` or `4, 5`; (figure, native grid PNG, preview PNG)."""
        rows = parse_keyframes(row_seeds, row_latent_files, max_count=MAX_MIX_SEEDS)
        cols = parse_keyframes(column_seeds, column_latent_files, max_count=MAX_MIX_SEEDS)
        G = self.stylegan2(name, "style mixing")
        mix = self.style_mix(G, rows, cols, self.mix_layers(G, preset, layers), sg2)
        return mix, *self.save_style_mix(mix)

    def mix_layers(self, model: Model, preset: str, layers: str = "") -> list[int]:
        """The ws a preset (the family's own presets where it has them) or, with `custom`, the
        text `layers` names."""
        G = self.stylegan2(model, "style mixing")
        presets = families.family_of(G).style_presets
        return mix_layers(preset, layers, G.num_ws, presets(G.num_ws) if presets else None)

    def save_style_mix(self, mix: StyleMix, cell: int = DISPLAY_SIZE) -> tuple[Path, Path]:
        """The grid at native resolution, and a preview with `cell`-pixel faces for the page."""
        folder = self.output_dir()
        native = media.save_png(mix.grid(), folder / "style-mix.png")
        return native, media.save_png(mix.resized(cell).grid(), folder / "style-mix-preview.png")

    # --- files ------------------------------------------------------------------------------

    def output_dir(self) -> Path:
        """A fresh, unguessable folder for one request's files; old ones are pruned."""
        self._prune_soon()
        folder = self.output_root / secrets.token_hex(32)
        folder.mkdir(parents=True)
        return folder

    def _prune_soon(self) -> None:
        """Prune in a background thread, at most once per PRUNE_INTERVAL_S (walking the
        output root takes longer than a request's own work)."""
        with self._prune_lock:
            now = self._clock()
            if now < self._next_prune:
                return
            self._next_prune = now + PRUNE_INTERVAL_S
            self._pruner = threading.Thread(
                target=self._prune_outputs, name="gan-studio-prune-outputs", daemon=True
            )
            self._pruner.start()

    def _prune_outputs(self) -> None:
        """Empty folders after OUTPUT_TTL_S, any after twice that. Inside Gradio's cache folder
        Gradio deletes the files itself (`delete_cache`), and forgets them only then."""
        if not self.output_root.is_dir():
            return
        now = time.time()
        for child in self.output_root.iterdir():
            try:
                age = now - child.stat().st_mtime
                if age > 2 * OUTPUT_TTL_S:
                    shutil.rmtree(child, ignore_errors=True)
                elif age > OUTPUT_TTL_S:
                    child.rmdir()  # only when empty
            except OSError:
                pass

    def save_gallery(self, faces: Faces) -> list[Path]:
        """Each face as a PNG for the page: native resolution up to THUMBNAIL_SIZE (the page
        scales small ones up with CSS), downscaled above it (the zip keeps native ones)."""
        folder = self.output_dir()
        return [
            media.save_page_png(media.thumbnail(image, THUMBNAIL_SIZE), folder / name)
            for name, image in zip(face_names(faces), faces.images, strict=True)
        ]

    def save_zip(self, faces: Faces) -> Path:
        """One zip: each face as a native PNG, the grid, the latents (.npy and .json)."""
        path = self.output_dir() / "faces.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed
            for name, image in zip(face_names(faces), faces.images, strict=True):
                archive.writestr(name, media.png_bytes(image))
            archive.writestr("grid.png", media.png_bytes(media.grid(faces.images)))
            for name, data in latent_files(faces).items():
                archive.writestr(name, data)
        return path

    def save_faces(self, faces: Faces) -> list[Path]:
        """Four files: a grid PNG, a zip of the faces' PNGs and the latents (.npy, .json); the
        app's earlier output shape (`save_gallery` and `save_zip` replace it; the cheap-path
        benchmark measures it as its baseline)."""
        folder = self.output_dir()
        files = [media.save_png(media.grid(faces.images), folder / "grid.png")]
        names = faces.seeds or list(range(len(faces.images)))
        prefix = "seed" if faces.seeds else "face"
        with zipfile.ZipFile(folder / "faces.zip", "w") as archive:
            for label, image in zip(names, faces.images, strict=True):
                archive.writestr(f"{prefix}{label:04d}.png", media.png_bytes(image))
        files.append(folder / "faces.zip")
        for name, data in latent_files(faces).items():
            path = folder / name
            path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
            files.append(path)
        return files

    def save_animation(self, frames: np.ndarray, fps: int) -> tuple[Path, Path, Path]:
        """Strip PNG (native resolution), GIF and MP4 (upscaled for viewing)."""
        folder = self.output_dir()
        big = media.upscale_frames(frames, DISPLAY_SIZE)
        return (
            media.save_png(media.strip(frames), folder / "strip.png"),
            media.save_gif(big, folder / "interpolation.gif", fps),
            media.save_mp4(big, folder / "interpolation.mp4", fps),
        )


# --- checks -------------------------------------------------------------------------------------


def _labels(key: Keyframe, latent: torch.Tensor) -> list[int | str]:
    """A keyframe's labels: its seed, or its file's name (`name[i]` for one of several)."""
    if isinstance(key, int):
        return [key]
    name = Path(key).name
    return [name] if len(latent) == 1 else [f"{name}[{i}]" for i in range(len(latent))]


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, 3) faces at `size` px (nearest up, so a small model's pixels stay crisp)."""
    if images.shape[1] == size:
        return images
    return np.stack([np.asarray(media.upscale(image, size)) for image in images])


def _capped(path: torch.Tensor, max_frames: int) -> torch.Tensor:
    """A walk's latents, refused when they are more frames than `max_frames`."""
    if len(path) > max_frames:
        raise UserInputError(
            "that makes {total} frames: at most {max}",
            "msg.error.total_frames",
            total=len(path),
            max=max_frames,
        )
    return path
