"""Model families: what each architecture is made of and what it can do, in one object.

A family names its config and module classes (G, and D where it has one), its defaults and its
capabilities; everything outside `gan/models/` asks the family (`family_of(model).style_mixing`)
instead of checking a model's class or `model_type`. `load` and `save` are the one reader and
writer of a family's modules: the config of every module, D included, is always saved
(D's as JSON in its safetensors metadata, key "config"), through the store's atomic writer.

A new family: a `Family(...)` passed to `register` (see DEVELOPERS.md, "Adding a model family").
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from core import store
from gan import models
from gan.models import dcgan, stylegan2, stylegan2_d, stylegan3

ROLES = ("G", "D")
CONFIG_KEY = "config"  # D's config: JSON in its safetensors metadata under this key


@dataclass(frozen=True)
class Family:
    """One architecture family: its classes, defaults and capabilities."""

    name: str  # e.g. "dcgan", "stylegan2"
    title: str  # as the page names it: "DCGAN", "StyleGAN2"
    generator_type: str  # config.json's `model_type` of G
    generator_config: type
    generator_class: type[nn.Module]
    z_dim: Callable[[nn.Module], int]  # G -> size of z
    resolution: Callable[[Any], int]  # G's or D's config -> image side in pixels
    channels: Callable[[Any], int]  # G's or D's config -> image channels
    sefa_layers: Callable[[nn.Module], list[torch.Tensor]]  # G -> weights (outputs, dim) per layer
    discriminator_type: str | None = None
    discriminator_config: type | None = None
    discriminator_class: type[nn.Module] | None = None
    latent_spaces: tuple[str, ...] = ("z",)  # "z"; "w" = W+ (num_ws, w_dim) of a mapping
    truncation_cutoff: bool = False
    noise_inputs: bool = False
    classes: bool = False
    input_transform: bool = False
    style_mixing: bool = False
    num_ws: Callable[[dict], int] | None = None  # G's config.json -> how many ws (style mixing)
    recipe: str = ""  # the fine-tune recipe's key in gan/finetune ("" = not fine-tunable)
    defaults: dict[str, Any] = field(default_factory=dict)  # what a request leaves unset
    # D files saved without a config (older DCGAN checkpoints): (tensors, image size) -> config
    legacy_discriminator: Callable[[dict, int], Any | None] | None = None
    prepare: Callable[[nn.Module], nn.Module] = lambda G: G  # once, after loading for inference
    # num_ws -> style-mixing presets {"coarse": (first, end), ...}; None: StyleGAN's by resolution
    style_presets: Callable[[int], dict[str, tuple[int, int | None]]] | None = None

    @property
    def has_w(self) -> bool:
        return "w" in self.latent_spaces

    @property
    def has_d(self) -> bool:
        return self.discriminator_class is not None

    def types(self) -> tuple[str, ...]:
        return tuple(t for t in (self.generator_type, self.discriminator_type) if t)


_FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add (or replace) a family; its module types become buildable by `gan.models.build`."""
    _FAMILIES[family.name] = family
    models.register(family.generator_type, family.generator_config, family.generator_class)
    if family.has_d:
        models.register(
            family.discriminator_type, family.discriminator_config, family.discriminator_class
        )
    return family


def unregister(name: str) -> None:
    """Remove a family and its module types (a test's own family, when the test ends)."""
    family = _FAMILIES.pop(name)
    for model_type in family.types():
        models.REGISTRY.pop(model_type, None)


def families() -> list[Family]:
    return list(_FAMILIES.values())


def generator_types() -> tuple[str, ...]:
    """The `model_type`s of every family's G (what the Generate tab lists)."""
    return tuple(f.generator_type for f in _FAMILIES.values())


def _by_type(model_type: str) -> Family | None:
    return next((f for f in _FAMILIES.values() if model_type in f.types()), None)


def family_of(model: nn.Module | Path | dict) -> Family:
    """The family of a module, a model folder or a config dict (a config without `model_type`
    is a DCGAN G: the oldest folders have none). KeyError when none matches."""
    if isinstance(model, nn.Module):
        found = next(
            (f for f in _FAMILIES.values() if type(model) in _classes(f)),
            None,
        )
    else:
        config = store.read_config(model) if isinstance(model, Path) else model
        found = _by_type(config.get("model_type", dcgan.GENERATOR_TYPE))
    if found is None:
        raise KeyError(f"no model family for {type(model).__name__}; known: {sorted(_FAMILIES)}")
    return found


# What a model was trained on, as config.json or its name says it: FFHQ-style face data sets,
# whose photos want the FFHQ crop before projection (`gan.align`). `"faces": true/false` in a
# config.json decides outright.
FACE_DATA = ("ffhq", "celeba", "metfaces", "digiface", "face")


def is_face_model(config: dict, name: str = "") -> bool:
    """Whether the model draws faces (aligned photos project best onto it)."""
    if isinstance(config.get("faces"), bool):
        return config["faces"]
    said = " ".join(str(config.get(k, "")) for k in ("dataset", "source")) + " " + name
    return any(word in said.lower() for word in FACE_DATA)


def _classes(family: Family) -> tuple[type, ...]:
    return tuple(c for c in (family.generator_class, family.discriminator_class) if c)


def role_of(config: dict) -> str:
    """ "G" or "D": which module of its family a config describes."""
    family = family_of(config)
    return "D" if config.get("model_type") == family.discriminator_type else "G"


def class_count(G: nn.Module) -> int:
    """How many classes a conditional G takes (0: unconditional, or a family without them)."""
    return int(getattr(G, "c_dim", 0) or 0) if family_of(G).classes else 0


def w_shape(G: nn.Module) -> tuple[int, int]:
    """(num_ws, w_dim) of a family with a W space; (0, 0) otherwise."""
    if not family_of(G).has_w:
        return 0, 0
    return int(G.num_ws), int(G.w_dim)


def image_size(module: nn.Module) -> int:
    """The side of the images G makes or D takes."""
    return family_of(module).resolution(module.config)


def image_shape(module: nn.Module) -> tuple[int, int]:
    """(channels, side) of the images G makes or D takes."""
    return family_of(module).channels(module.config), image_size(module)


Camera = tuple[float, float, float]  # (translate_x, translate_y, rotate in degrees)
NO_CAMERA: Camera = (0.0, 0.0, 0.0)


def camera_kwargs(G: nn.Module, cameras: list[Camera]) -> dict[str, torch.Tensor]:
    """What `G.synthesis` takes for one camera per image: `transform` (N, 3, 3) for a family
    with an input transform (StyleGAN3); nothing for the others, or when no camera moves."""
    if not family_of(G).input_transform or all(c == NO_CAMERA for c in cameras):
        return {}
    return {
        "transform": torch.stack(
            [stylegan3.camera_transform((tx, ty), deg) for tx, ty, deg in cameras]
        )
    }


# --- Load and save ----------------------------------------------------------------------------


def config_dict(module: nn.Module) -> dict:
    """The module's config as saved (with its `model_type`)."""
    config = module.config
    values = config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
    role = "D" if type(module) is family_of(module).discriminator_class else "G"
    model_type = _type_of(family_of(module), role)
    return {**values, "model_type": model_type}


def _type_of(family: Family, role: str) -> str:
    if role == "D" and not family.has_d:
        raise store.ModelLoadError(f"a {family.name} model has no discriminator")
    return family.discriminator_type if role == "D" else family.generator_type


def _build(config: dict, label: str, role: str) -> nn.Module:
    what = "face generator" if role == "G" else "discriminator"
    wrong = store.ModelLoadError(f"{label} is a {config.get('model_type')}, not a {what}")
    try:
        family = family_of(config)
    except KeyError:
        raise wrong from None
    if _type_of(family, role) != config.get("model_type", dcgan.GENERATOR_TYPE):
        raise wrong
    try:
        return models.build(_type_of(family, role), config)
    except (TypeError, ValueError, KeyError) as e:
        raise store.ModelLoadError(f"{label}: its config is not valid ({e})") from e


def _with_weights(module: nn.Module, tensors: dict, label: str) -> nn.Module:
    try:
        module.load_state_dict(tensors)
    except (TypeError, ValueError, RuntimeError) as e:
        raise store.ModelLoadError(f"{label}: the weights do not match its config ({e})") from e
    return module


def load(
    model: str | Path, role: str = "G", weights: str = store.WEIGHTS_NAME, label: str = ""
) -> nn.Module:
    """A model's G (from config.json and `weights`) or D (discriminator.safetensors, its config
    in the metadata), on the CPU. `model` is a store name or a folder."""
    folder = model if isinstance(model, Path) else store.resolve(model)
    label = label or str(model if isinstance(model, str) else folder.name)
    if role == "G":
        config, tensors = store.from_pretrained(folder, weights)
        return _with_weights(_build(config, label, "G"), tensors, label)
    path = folder / store.DISCRIMINATOR_NAME
    if isinstance(model, str):
        path = store.discriminator_file(model, folder) or path
    return load_discriminator_file(path, family_of(folder), image_size_of(folder))


def load_discriminator_file(path: Path, family: Family, image_size: int) -> nn.Module:
    """D from its safetensors file: the config in its metadata, else (older files) the one
    the family reads from the tensors' shapes."""
    if not path.is_file():
        raise store.ModelLoadError(f"{path.name} is missing")
    saved = store.read_safetensors_metadata(path).get(CONFIG_KEY)
    tensors = store.read_safetensors(path)
    if saved is not None:
        try:
            config = json.loads(saved)
        except json.JSONDecodeError as e:
            raise store.ModelLoadError(f"{path.name}: its config metadata is not JSON") from e
        return _with_weights(_build(config, path.name, "D"), tensors, path.name)
    if family.legacy_discriminator is None:
        raise store.ModelLoadError(f"{path.name} has no config: not a {family.name} discriminator")
    config = family.legacy_discriminator(tensors, image_size)
    if config is None:
        raise store.ModelLoadError(f"{path.name} is not a discriminator of a known family")
    return _with_weights(family.discriminator_class(config), tensors, path.name)


def image_size_of(folder: Path) -> int:
    """The output side of the G in `folder`, from its config.json alone (no weights)."""
    config = store.read_config(folder)
    family = family_of(config)
    if role_of(config) != "G":
        raise store.ModelLoadError(
            f"{folder.name} is a {config.get('model_type')}, not a generator"
        )
    return family.resolution(models.config_from_dict(family.generator_type, config))


def discriminator_entry(D: nn.Module) -> tuple[dict, dict[str, str]]:
    """D's tensors and its safetensors metadata (its config), as every D writer saves them."""
    return D.state_dict(), {CONFIG_KEY: json.dumps(config_dict(D))}


def save(folder: Path, module: nn.Module, role: str = "G", card: str = "") -> Path:
    """Write one module (G: config.json + model.safetensors; D: discriminator.safetensors
    with its config) into `folder` atomically, keeping the folder's other files."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")

    def write(tmp: Path) -> None:
        if folder.is_dir():
            for f in folder.iterdir():
                if f.is_file():
                    shutil.copy2(f, tmp / f.name)
        if role == "G":
            (tmp / store.CONFIG_NAME).write_text(json.dumps(config_dict(module), indent=2) + "\n")
            save_file(_contiguous(module.state_dict()), str(tmp / store.WEIGHTS_NAME))
            if card or not (tmp / store.CARD_NAME).exists():
                (tmp / store.CARD_NAME).write_text(card or f"# {folder.name}\n")
        else:
            tensors, metadata = discriminator_entry(module)
            path = str(tmp / store.DISCRIMINATOR_NAME)
            save_file(_contiguous(tensors), path, metadata=metadata)

    return store.atomic_write_dir(folder, write)


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


# --- The built-in families ------------------------------------------------------------------


def _dcgan_first_layer(G: nn.Module) -> list[torch.Tensor]:
    """The first transposed convolution (nz, C, k, k) as a map nz -> C*k*k: (C*k*k, nz)."""
    weight = G.main[0].weight
    return [weight.reshape(weight.shape[0], -1).T]


def _dcgan_legacy_d(tensors: dict, image_size: int) -> dcgan.DiscriminatorConfig | None:
    """ndf and nc from the first convolution's shape; None when there is none."""
    first = tensors.get("main.0.weight")
    if first is None:
        return None
    return dcgan.DiscriminatorConfig(ndf=first.shape[0], nc=first.shape[1], image_size=image_size)


def _sg2_affines(G: nn.Module) -> list[torch.Tensor]:
    """One affine (style) weight per W+ entry: every conv's, then the last toRGB's (genforce)."""
    layers = dict(G.affine_layers())
    convs = [m.weight for n, m in layers.items() if ".conv" in n]
    last_rgb = [m.weight for n, m in layers.items() if ".torgb" in n][-1]
    return [*convs, last_rgb]


def _sg3_affines(G: nn.Module) -> list[torch.Tensor]:
    """One affine weight per W+ entry, in synthesis order: the input's, each layer's, ToRGB's."""
    return [m.weight for _, m in G.affine_layers()]


def _sg3_style_presets(num_ws: int) -> dict[str, tuple[int, int | None]]:
    """Thirds of the ws: StyleGAN3's layers raise their cutoff frequency geometrically from the
    first layer to the last critically sampled one (Karras et al. 2021, Fig. 4 and sec. 3.2),
    so equal runs of layers are its coarse, middle and fine scales (16 ws: 0-4, 5-10, 11-15)."""
    first, second = round(num_ws / 3), round(2 * num_ws / 3)
    return {"coarse": (0, first), "middle": (first, second), "fine": (second, None)}


def _channels_last(G: nn.Module) -> nn.Module:
    """Same images (to float rounding), faster on the CPU: about a third for StyleGAN2 (see
    gan/models/stylegan2.py), 8% for the 64 px DCGAN's 16-face grid (37 -> 34 ms, 1 thread)."""
    return G.to(memory_format=torch.channels_last)


DCGAN = register(
    Family(
        name="dcgan",
        title="DCGAN",
        generator_type=dcgan.GENERATOR_TYPE,
        generator_config=dcgan.GeneratorConfig,
        generator_class=dcgan.Generator,
        discriminator_type=dcgan.DISCRIMINATOR_TYPE,
        discriminator_config=dcgan.DiscriminatorConfig,
        discriminator_class=dcgan.Discriminator,
        z_dim=lambda G: int(G.config.nz),
        resolution=lambda config: int(config.image_size),
        channels=lambda config: int(config.nc),
        sefa_layers=_dcgan_first_layer,
        recipe="dcgan",
        legacy_discriminator=_dcgan_legacy_d,
        prepare=_channels_last,
    )
)
STYLEGAN2 = register(
    Family(
        name="stylegan2",
        title="StyleGAN2",
        generator_type=stylegan2.GENERATOR_TYPE,
        generator_config=stylegan2.StyleGAN2Config,
        generator_class=stylegan2.StyleGAN2Generator,
        discriminator_type=stylegan2_d.DISCRIMINATOR_TYPE,
        discriminator_config=stylegan2_d.StyleGAN2DiscriminatorConfig,
        discriminator_class=stylegan2_d.StyleGAN2Discriminator,
        z_dim=lambda G: int(G.z_dim),
        resolution=lambda config: int(config.img_resolution),
        channels=lambda config: int(config.img_channels),
        sefa_layers=_sg2_affines,
        latent_spaces=("z", "w"),
        truncation_cutoff=True,
        noise_inputs=True,
        classes=True,
        style_mixing=True,
        # two ws per resolution from 8 px, one at 4 px: 8 at 32 px, 10 at 64 px
        num_ws=lambda config: 2 * int(config["img_resolution"]).bit_length() - 4,
        recipe="stylegan2",
        prepare=_channels_last,
    )
)
STYLEGAN3 = register(
    Family(
        name="stylegan3",
        title="StyleGAN3",
        generator_type=stylegan3.GENERATOR_TYPE,
        generator_config=stylegan3.StyleGAN3Config,
        generator_class=stylegan3.StyleGAN3Generator,
        # the D in NVIDIA's StyleGAN3 pickles is StyleGAN2's (networks_stylegan2.Discriminator)
        discriminator_type=stylegan2_d.DISCRIMINATOR_TYPE,
        discriminator_config=stylegan2_d.StyleGAN2DiscriminatorConfig,
        discriminator_class=stylegan2_d.StyleGAN2Discriminator,
        z_dim=lambda G: int(G.z_dim),
        resolution=lambda config: int(config.img_resolution),
        channels=lambda config: int(config.img_channels),
        sefa_layers=_sg3_affines,
        latent_spaces=("z", "w"),  # num_ws = num_layers + 2
        truncation_cutoff=True,
        classes=True,
        input_transform=True,
        style_mixing=True,
        recipe="stylegan3",
        style_presets=_sg3_style_presets,
    )
)
