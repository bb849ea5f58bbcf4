"""The checkpoint of a fine-tuning run, written and read through the store's one
`save_pretrained`/`from_pretrained` pair: config.json + model.safetensors (the EMA generator),
the raw generator, the discriminator (its config in the file's metadata), the Adam states,
the run's state (JSON) and the model card."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from core import store
from core.errors import UserInputError
from gan import models
from gan.finetune import run_state
from gan.finetune.config import FinetuneJob
from gan.finetune.trainer import GANTrainer, unwrap
from gan.loading import generator_from_folder
from gan.models import families
from gan.models.dcgan import DISCRIMINATOR_TYPE, Discriminator, DiscriminatorConfig, init_weights

DISCRIMINATOR_NAME = store.DISCRIMINATOR_NAME
GENERATOR_TRAIN_NAME = "generator_train.safetensors"  # raw (non-EMA) G, for resuming
OPTIMIZER_NAME = "optimizer.safetensors"
STATE_NAME = "training_state.json"


def adam_tensors(opt: torch.optim.Optimizer, named: list[tuple[str, nn.Parameter]], prefix: str):
    """Adam state as flat tensors keyed `prefix/param_name/field` (safetensors, no pickle)."""
    names = {id(p): n for n, p in named}
    return {
        f"{prefix}/{names[id(p)]}/{key}": value
        for p, state in opt.state.items()
        for key, value in state.items()
        if torch.is_tensor(value)
    }


def load_adam(opt, named: list[tuple[str, nn.Parameter]], tensors: dict, prefix: str) -> int:
    """Restore Adam state by parameter name; returns how many parameters got state."""
    restored = 0
    for name, p in named:
        keys = {k: f"{prefix}/{name}/{k}" for k in ("step", "exp_avg", "exp_avg_sq")}
        if all(key in tensors for key in keys.values()):
            state = {k: tensors[key] for k, key in keys.items()}
            if state["exp_avg"].shape != p.shape:
                continue
            opt.state[p] = {
                "step": state["step"].float().cpu(),
                "exp_avg": state["exp_avg"].to(p.device, p.dtype),
                "exp_avg_sq": state["exp_avg_sq"].to(p.device, p.dtype),
            }
            restored += 1
    return restored


def model_card(state: dict, name: str) -> str:
    """README.md for a fine-tuned model: base model, data, steps, KID, hyper-parameters."""
    base = state["base_model"]
    kid = state.get("kid") or {}
    base_meta = f"base_model: {base.split('@')[0]}\n" if "/" in base else ""
    cfg = state["config"]
    lines = [
        "---",
        "library_name: pytorch",
        "tags: [gan, dcgan, image-generation, gan-studio, fine-tuned]",
        base_meta.rstrip("\n"),
        "---",
        "",
        f"# {name}",
        "",
        f"A DCGAN generator fine-tuned with GAN Studio from **{base}**.",
        "",
        f"- Base model: `{base}`",
        f"- Training images: {state['images']}",
        f"- Steps: {state['steps_done']} (this run: {state['run_steps']})",
        f"- Batch size: {cfg['batch_size']}; learning rates G {cfg['lr_g']:g}, D {cfg['lr_d']:g}; "
        f"Adam betas G ({cfg['beta1_g']}, {cfg['beta2_g']}), D ({cfg['beta1_d']}, "
        f"{cfg['beta2_d']})",
        f"- Balance rule threshold {cfg['d_loss_threshold']:g}; "
        f"DiffAugment `{cfg['diffaugment']}`; Freeze-D {state['frozen_d']} block(s); "
        f"EMA decay {cfg['ema_decay']}; D warm-up {state.get('d_warmup', 0)} step(s)",
        f"- Discriminator: {state['discriminator_origin']}",
    ]
    if kid.get("before") is not None:
        lines.append(f"- KID ×10⁻³ (EfficientNet-Lite0 features) before: {kid['before'] * 1e3:.2f}")
    if kid.get("after") is not None:
        lines.append(f"- KID ×10⁻³ after: {kid['after'] * 1e3:.2f}")
    lines += [
        "",
        "`model.safetensors` holds the EMA generator (used for generation); "
        f"`{GENERATOR_TRAIN_NAME}`, `{DISCRIMINATOR_NAME}`, `{OPTIMIZER_NAME}` and "
        f"`{STATE_NAME}` let GAN Studio resume training.",
        "",
    ]
    return "\n".join(line for line in lines if line is not None)


def save_run(target: Path, trainer: GANTrainer, state: dict, resume: dict | None = None) -> Path:
    """Write the whole run atomically: config, EMA G, raw G, D, optimisers, state, card, and
    `resume` (RNG states, sampler position: `run_state.safetensors` + `run_state.json`)."""
    G, D = unwrap(trainer.G), unwrap(trainer.D)
    config = {**G.config.to_dict(), "base_model": state["base_model"]}
    optim = adam_tensors(trainer.opt_g, trainer.named_g, "G")
    optim |= adam_tensors(trainer.opt_d, trainer.named_d, "D")
    extra = {GENERATOR_TRAIN_NAME: G.state_dict(), DISCRIMINATOR_NAME: D.state_dict()}
    texts = {STATE_NAME: json.dumps(state, indent=1) + "\n"}
    if resume is not None:
        extra[run_state.TENSORS_NAME], texts[run_state.JSON_NAME] = run_state.files(resume)
    return store.save_pretrained(
        target,
        config,
        trainer.G_ema.state_dict(),
        model_card(state, target.name),
        extra=extra | {OPTIMIZER_NAME: optim},
        extra_metadata={DISCRIMINATOR_NAME: {"config": json.dumps(D.config.to_dict())}},
        texts=texts,
    )


def load_discriminator(path: Path | None, image_size: int) -> tuple[Discriminator, bool]:
    """D from `path` (its saved config), or a fresh DCGAN-initialised one; (D, pretrained)."""
    if path is None:
        D = Discriminator(DiscriminatorConfig(image_size=image_size))
        D.apply(init_weights)
        return D, False
    tensors = store.read_safetensors(path)
    D = Discriminator(_discriminator_config(path, tensors, image_size))
    try:
        D.load_state_dict(tensors)
    except RuntimeError as e:
        raise store.ModelLoadError(f"{path.name} does not match the generator ({e})") from e
    return D, True


def _discriminator_config(
    path: Path, tensors: dict[str, torch.Tensor], image_size: int
) -> DiscriminatorConfig:
    """D's config as saved beside its weights; files saved without one (from elsewhere) get
    ndf and nc from the first convolution's shape."""
    saved = store.read_safetensors_metadata(path).get("config")
    if saved is None:
        first = tensors.get("main.0.weight")
        if first is None:
            raise store.ModelLoadError(f"{path.name} is not a DCGAN discriminator")
        return DiscriminatorConfig(ndf=first.shape[0], nc=first.shape[1], image_size=image_size)
    try:
        values = json.loads(saved)
        if families.family_of(values) is not families.DCGAN or families.role_of(values) != "D":
            raise ValueError("its config names another module")
        config = models.config_from_dict(DISCRIMINATOR_TYPE, values)
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        raise store.ModelLoadError(f"{path.name} is not a DCGAN discriminator ({e})") from e
    if config.image_size != image_size:
        raise store.ModelLoadError(
            f"{path.name} is for {config.image_size}px images, the generator makes {image_size}px"
        )
    return config


# --- Where a run starts ---------------------------------------------------------------------


def run_folder(job: FinetuneJob) -> Path:
    """The folder a run starts from: the base model, or `checkpoints/<name>/` to resume."""
    if not job.resume:
        return store.resolve(job.base)
    folder = store.local_model_dir(job.name)
    if folder is None or not (folder / STATE_NAME).is_file():
        raise UserInputError(f"nothing to resume: {job.name!r} is not a fine-tuned model here")
    return folder


def start_dcgan(job: FinetuneJob, device: torch.device) -> tuple[GANTrainer, dict, list[str]]:
    """The DCGAN trainer from the base model (new run) or `checkpoints/<name>/` (resume)."""
    return _resume_state(job, device) if job.resume else _new_state(job, device)


def _resume_state(job: FinetuneJob, device: torch.device) -> tuple[GANTrainer, dict, list[str]]:
    folder = store.local_model_dir(job.name)
    if folder is None or not (folder / STATE_NAME).is_file():
        raise UserInputError(f"nothing to resume: {job.name!r} is not a fine-tuned model here")
    previous = json.loads((folder / STATE_NAME).read_text())
    G = generator_from_folder(folder, job.name, GENERATOR_TRAIN_NAME)
    G_ema = generator_from_folder(folder, job.name)
    D, _ = load_discriminator(folder / DISCRIMINATOR_NAME, G.config.image_size)
    trainer = GANTrainer(
        G,
        D,
        job.config,
        device,
        freeze_d=previous["frozen_d"],
        d_warmup=previous.get("d_warmup", 0),
        G_ema=G_ema,
    )
    optim = store.read_safetensors(folder / OPTIMIZER_NAME)
    load_adam(trainer.opt_g, trainer.named_g, optim, "G")
    load_adam(trainer.opt_d, trainer.named_d, optim, "D")
    trainer.step = previous["steps_done"]
    state = {
        **previous,
        "history": previous.get("history", []),
        "kid": {"before": previous.get("kid", {}).get("after")},
    }
    return trainer, state, [f"resuming {job.name} at step {trainer.step}"]


def _new_state(job: FinetuneJob, device: torch.device) -> tuple[GANTrainer, dict, list[str]]:
    notes: list[str] = []
    config = job.config
    folder = store.resolve(job.base)
    G = generator_from_folder(folder, job.base)
    D, pretrained = load_discriminator(
        store.discriminator_file(job.base, folder), G.config.image_size
    )
    freeze = config.freeze_d if pretrained else 0
    if config.freeze_d and not pretrained:
        notes.append(f"{job.base} has no discriminator: a fresh one is trained (no Freeze-D)")
    warmup = 0 if pretrained else config.d_warmup
    trainer = GANTrainer(G, D, config, device, freeze_d=freeze, d_warmup=warmup)
    state = {
        "d_warmup": warmup,
        "base_model": job.base,
        "steps_done": 0,
        "frozen_d": trainer.frozen_d,
        "discriminator_origin": f"from {job.base}" if pretrained else "fresh (DCGAN init)",
        "history": [],
        "kid": {},
    }
    return trainer, state, notes
