"""StyleGAN2 fine-tuning on the loop of `gan.finetune.loop`: where a run starts (a base model,
with or without its D, or a saved run), its checkpoint, and the adapter that gives the loop
the DCGAN trainer's interface around `StyleGAN2Trainer`.

A StyleGAN2 checkpoint is one folder written by `core.store.save_pretrained`:
config.json (G's config + base_model), model.safetensors (G_ema, what generation uses),
discriminator.safetensors (D, its config as JSON in the metadata key "config", as the converter
writes it), generator_train.safetensors (the raw G), training_state.json (the run's summary,
history, KIDs), and run_state.safetensors + run_state.json: everything else the next step
depends on (Adam states, ADA p and its RNG, sampler position, kimg, torch/numpy/Python RNGs).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import store
from core.errors import UserInputError
from core.images import to_uint8
from gan.finetune import run_state
from gan.finetune.ada import AdaAugment
from gan.finetune.augment import diff_augment, parse_policy
from gan.finetune.config import FinetuneConfig, FinetuneJob
from gan.finetune.sg2_trainer import SG2TrainConfig, StyleGAN2Trainer, fresh_discriminator
from gan.finetune.trainer import StepLosses, world
from gan.judge import judge
from gan.loading import generator_from_folder
from gan.models import families

DISCRIMINATOR_NAME = store.DISCRIMINATOR_NAME
GENERATOR_TRAIN_NAME = store.GENERATOR_TRAIN_NAME
STATE_NAME = "training_state.json"
PREVIEW_P = 0.5  # ADA's p for the augmentation preview while p is still 0


def is_stylegan2(folder: Path) -> bool:
    """Whether the model folder's family fine-tunes with the StyleGAN2 recipe."""
    return families.family_of(folder).recipe == "stylegan2"


def conditional_refusal(c_dim: int) -> str:
    """Why a conditional StyleGAN2 is not fine-tuned here (its classes need labels)."""
    return (
        f"this StyleGAN2 is conditional ({c_dim} classes): fine-tuning it needs a class label "
        "for every training image, and uploaded images carry none. Pick an unconditional "
        "StyleGAN2 (c_dim 0) or a DCGAN model"
    )


def check_trainable(folder: Path) -> None:
    """Refuse, before any data is prepared, a model this trainer cannot fine-tune."""
    config = store.read_config(folder)
    if families.family_of(config).classes and int(config.get("c_dim") or 0) > 0:
        raise UserInputError(conditional_refusal(int(config["c_dim"])))


def train_config(config: FinetuneConfig, rank: int = 0) -> SG2TrainConfig:
    """The trainer's settings from the run's (0 r1_gamma / ema_kimg: NVIDIA's auto values; a
    block count in `freeze_d`, from an older call, becomes `freeze_d_blocks`)."""
    return SG2TrainConfig(
        batch_size=config.batch_size,
        lr_g=config.lr_g,
        lr_d=config.lr_d,
        beta1_g=config.beta1_g,
        beta2_g=config.beta2_g,
        beta1_d=config.beta1_d,
        beta2_d=config.beta2_d,
        r1_gamma=config.r1_gamma or None,
        d_reg_interval=config.d_reg_interval,
        g_reg_interval=config.g_reg_interval,
        style_mixing_prob=config.style_mixing_prob,
        pl_weight=config.pl_weight,
        pl_batch_shrink=config.pl_batch_shrink,
        pl_decay=config.pl_decay,
        ema_kimg=config.ema_kimg or None,
        ema_rampup=config.ema_rampup or None,
        augment=config.augment,
        diffaugment=config.diffaugment,
        augment_p=config.augment_p,
        ada_target=config.ada_target,
        ada_kimg=config.ada_kimg,
        freezed=config.freezed,
        freeze_d_blocks=config.freeze_d,
        d_loss_threshold=config.d_loss_threshold,
        d_warmup=config.d_warmup,
        seed=config.seed + 1000 * rank,
    )


class SG2Adapter:
    """`StyleGAN2Trainer` with the interface the loop uses (`step`, `nz`, `G_ema`, ...)."""

    def __init__(self, trainer: StyleGAN2Trainer, d_pretrained: bool) -> None:
        self.trainer, self.d_pretrained = trainer, d_pretrained
        self.nz = trainer.G.z_dim
        self.image_size = trainer.G.img_resolution
        self.frozen_d, self.d_warmup = trainer.frozen_d, trainer.d_warmup

    @property
    def step(self) -> int:
        return self.trainer.batch_idx

    @property
    def G_ema(self) -> nn.Module:  # noqa: N802 (the papers' name)
        return self.trainer.G_ema

    def train_step(self, real: torch.Tensor | None = None) -> StepLosses:
        """One StyleGAN2 step on the trainer's own sampler (`real` is ignored)."""
        out = self.trainer.train_step()
        extra = {"r1": out["R1"], "kimg": out["kimg"]}
        if self.trainer.config.augment in ("ada", "fixed"):
            extra["ada_p"] = out["ada_p"]
        return StepLosses(out["D"], out["G"], bool(out["skipped"]), extra)

    @torch.no_grad()
    def samples(self, z: torch.Tensor) -> np.ndarray:
        """G_ema on fixed latents (constant noise) -> uint8 (N, H, W, 3)."""
        img = self.trainer.G_ema(z.to(self.trainer.device), noise_mode="const")
        return to_uint8(img.float().cpu().numpy())

    def resume_state(self) -> dict:
        """The trainer's state without the weights (those are the model's files)."""
        state = self.trainer.state_dict()
        for key in ("G", "G_ema", "D"):
            state.pop(key)
        return state

    def restore(self, saved: dict) -> None:
        t = self.trainer
        weights = {"G": t.G.state_dict(), "G_ema": t.G_ema.state_dict(), "D": t.D.state_dict()}
        t.load_state_dict(saved | weights)

    def modules(self) -> tuple[nn.Module, nn.Module]:
        return self.trainer.G, self.trainer.D


# --- Where a run starts ---------------------------------------------------------------------


def start(job: FinetuneJob, device: torch.device, folder: Path):
    """(adapter, state, notes) for a new run from `folder` (the base) or a resume of it."""
    return _resume(job, device, folder) if job.resume else _new(job, device, folder)


def _trainer(job, device, G, D, config: SG2TrainConfig, d_pretrained: bool) -> SG2Adapter:
    if G.c_dim:
        raise UserInputError(conditional_refusal(G.c_dim))
    trainer = StyleGAN2Trainer(G, D, config, job.images, device, d_pretrained=d_pretrained)
    return SG2Adapter(trainer, d_pretrained)


def _new(job: FinetuneJob, device: torch.device, folder: Path):
    # As NVIDIA's --resume: the raw G trains and G_ema goes on from the saved G_ema, when the
    # model keeps both (a converted NVIDIA pickle with its G); otherwise both start at G_ema.
    has_raw = (folder / GENERATOR_TRAIN_NAME).is_file()
    G_ema = generator_from_folder(folder, job.base)
    G = generator_from_folder(folder, job.base, GENERATOR_TRAIN_NAME) if has_raw else G_ema
    path = store.discriminator_file(job.base, folder)
    if path is None:
        D, pretrained = fresh_discriminator(G.config, mbstd_group_size=4), False
    else:
        D, pretrained = judge.build_discriminator(path, G.img_resolution), True
    adapter = _trainer(job, device, G, D, train_config(job.config, world()[0]), pretrained)
    if has_raw:
        adapter.trainer.G_ema.load_state_dict(G_ema.state_dict())
    state = {
        "architecture": families.family_of(G).name,
        "d_pretrained": pretrained,
        "d_warmup": adapter.d_warmup,
        "base_model": job.base,
        "steps_done": 0,
        "frozen_d": adapter.frozen_d,
        "discriminator_origin": f"from {job.base}" if pretrained else "fresh (StyleGAN2 init)",
        "generator_origin": "the raw G and G_ema" if has_raw else "G_ema (no raw G saved)",
        "sg2_config": asdict(adapter.trainer.config),
        "history": [],
        "kid": {},
    }
    return adapter, state, list(adapter.trainer.notes)


def _resume(job: FinetuneJob, device: torch.device, folder: Path):
    previous = json.loads((folder / STATE_NAME).read_text())
    G = generator_from_folder(folder, job.name, GENERATOR_TRAIN_NAME)
    G_ema = generator_from_folder(folder, job.name)
    D = judge.build_discriminator(folder / DISCRIMINATOR_NAME, G.img_resolution)
    saved = previous["sg2_config"]  # the run's own settings (rank 0's seed: offset per rank)
    config = SG2TrainConfig.from_saved(saved | {"seed": saved["seed"] + 1000 * world()[0]})
    if config.batch_size != job.config.batch_size:
        raise UserInputError(
            f"resume with the run's batch size ({config.batch_size}) to continue it exactly"
        )
    adapter = _trainer(job, device, G, D, config, previous["d_pretrained"])
    adapter.trainer.G_ema.load_state_dict(G_ema.state_dict())
    state = {**previous, "kid": {"before": previous.get("kid", {}).get("after")}}
    return adapter, state, [f"resuming {job.name} at step {previous['steps_done']}"]


# --- The checkpoint -----------------------------------------------------------------------------


def save(target: Path, adapter: SG2Adapter, state: dict, resume: dict | None) -> Path:
    """The whole run, atomically, through the store's one writer."""
    G, D = adapter.modules()
    extra = {GENERATOR_TRAIN_NAME: G.state_dict(), DISCRIMINATOR_NAME: D.state_dict()}
    texts = {STATE_NAME: json.dumps(state, indent=1) + "\n"}
    if resume is not None:
        extra[run_state.TENSORS_NAME], texts[run_state.JSON_NAME] = run_state.files(resume)
    return store.save_pretrained(
        target,
        {**G.config.to_dict(), "base_model": state["base_model"]},
        adapter.G_ema.state_dict(),
        model_card(state, target.name),
        extra=extra,
        extra_metadata={DISCRIMINATOR_NAME: {"config": json.dumps(D.config.to_dict())}},
        texts=texts,
    )


def model_card(state: dict, name: str) -> str:
    """README.md of a fine-tuned StyleGAN2 or 3: base, data, steps, settings, KIDs."""
    cfg, kid, base = state["sg2_config"], state.get("kid") or {}, state["base_model"]
    family = state.get("architecture", "stylegan2")
    title = next((f.title for f in families.families() if f.name == family), "StyleGAN2")
    lines = [
        "---",
        "library_name: pytorch",
        f"tags: [gan, {family}, image-generation, gan-studio, fine-tuned]",
        *([f"base_model: {base.split('@')[0]}"] if "/" in base else []),
        "---",
        "",
        f"# {name}",
        "",
        f"A {title} generator fine-tuned with GAN Studio from **{base}**.",
        "",
        f"- Training images: {state['images']}; steps: {state['steps_done']} "
        f"({state['steps_done'] * cfg['batch_size'] / 1000:g} kimg)",
        f"- Batch {cfg['batch_size']}; lr G {cfg['lr_g']:g}, D {cfg['lr_d']:g}; "
        f"R1 γ {cfg['r1_gamma']:g} every {cfg['d_reg_interval']} steps; "
        f"style mixing {cfg['style_mixing_prob']:g}; EMA half-life {cfg['ema_kimg']:g} kimg",
        f"- Augmentation {cfg['augment']} (ADA target {cfg['ada_target']:g}, ada_kimg "
        f"{cfg.get('ada_kimg', 500):g}); path length {cfg.get('pl_weight', 0):g}; "
        f"{freeze_text(state, cfg)}; balance rule {cfg['d_loss_threshold']:g}",
        f"- Discriminator: {state['discriminator_origin']}",
    ]
    for when in ("before", "after"):
        if kid.get(when) is not None:
            lines.append(f"- KID ×10⁻³ {when} (EfficientNet-Lite0 features): {kid[when] * 1e3:.2f}")
    lines += ["", "`model.safetensors` holds G_ema; the other files let GAN Studio resume.", ""]
    return "\n".join(lines)


def freeze_text(state: dict, cfg: dict) -> str:
    """Freeze-D in NVIDIA's units (D layers), and the block count of a run that gave one."""
    blocks = cfg.get("freeze_d_blocks", cfg.get("freeze_d"))
    if "freezed" not in cfg:  # a card written when Freeze-D counted blocks
        return f"Freeze-D {state['frozen_d']} block(s)"
    shown = f"Freeze-D {state['frozen_d']} layer(s) (freezed)"
    return shown + (f", from freeze_d = {blocks} block(s)" if blocks is not None else "")


# --- The augmentation preview -------------------------------------------------------------------


def augment_preview(
    images: torch.Tensor, config: FinetuneConfig, p: float | None = None, n: int = 16
) -> tuple[np.ndarray, str]:
    """Real images as D will see them: ADA at `p` (the initial p, or PREVIEW_P while that is
    0), or DiffAugment; its own seeded RNGs, so training draws nothing less. (uint8 grid
    images (N, H, W, 3), caption)."""
    x = images[:n].float() / 127.5 - 1
    if config.augment == "none":
        return to_uint8(x.numpy()), "augmentation off: D sees the images as they are"
    if config.augment == "diffaugment":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            out = diff_augment(x, parse_policy(config.diffaugment))
        return to_uint8(out.numpy()), f"DiffAugment {config.diffaugment}"
    p = config.augment_p if p is None else p
    shown = p if p > 0 else PREVIEW_P
    out = AdaAugment("bgc", shown, seed=config.seed)(x)
    note = f"ADA at p = {shown:.2f}"
    if not p:
        note += " (training starts at p = 0; p rises when D overfits)"
    return to_uint8(out.numpy()), note
