"""Write a converted network pair as a model folder, and push it to the Hub."""

from __future__ import annotations

import html
import json
import logging
import os
import re
from pathlib import Path

import torch

from gan.convert import _compat
from gan.convert.errors import ConversionError
from gan.convert.nvidia_pickle import Converted
from gan.convert.stylegan3_pickle import STYLEGAN3

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
D_WEIGHTS_NAME = "discriminator.safetensors"
G_TRAIN_NAME = "generator_train.safetensors"  # core.store.GENERATOR_TRAIN_NAME
CARD_NAME = "README.md"
UPLOAD_PATTERNS = ["*.safetensors", "*.json", "*.md"]
FORMAT_NAMES = {
    "nvidia": "an NVIDIA network pickle (stylegan2-ada-pytorch or stylegan3)",
    "rosinality": "a rosinality/stylegan2-pytorch checkpoint",
}


def _tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items()}


_MARKDOWN = re.compile(r"([\\`*_\[\]()#!|~<>])")


def escape_text(text: str, limit: int = 300) -> str:
    """One line of plain text for markdown: HTML escaped, markdown characters backslashed."""
    line = " ".join(str(text)[:limit].split())
    return _MARKDOWN.sub(r"\\\1", html.escape(line, quote=True))


NVIDIA_LICENSE_NOTE = (
    "NVIDIA's official StyleGAN2-ADA and StyleGAN3 weights are under the NVIDIA Source Code "
    "License-NC, for non-commercial use only"
)


def _architecture(c: dict, kind: str) -> tuple[str, str]:
    """(family, architecture line) of a checked config; `kind`: the converter's family."""
    common = (
        f"z_dim {c['z_dim']}, w_dim {c['w_dim']}, {c['mapping_layers']} mapping layers, "
        f"channel_base {c['channel_base']}, channel_max {c['channel_max']}"
    )
    if kind == STYLEGAN3:
        family = "StyleGAN3-R" if c["conv_kernel"] == 1 else "StyleGAN3-T"
        return family, (
            f"{family} (Karras et al. 2021, alias-free), NVIDIA stylegan3 layout: {common}, "
            f"{c['num_layers']} layers ({c['num_critical']} critically sampled), "
            f"{c['conv_kernel']}x{c['conv_kernel']} convolutions, "
            f"{'radial' if c['use_radial_filters'] else 'separable'} filters, "
            f"conv_clamp {c['conv_clamp']}."
        )
    return "StyleGAN2", (
        "StyleGAN2 (Karras et al. 2020), NVIDIA stylegan2-ada-pytorch layout: "
        f"{common}, {c['architecture']} architecture, conv_clamp {c['conv_clamp']}."
    )


def model_card(name: str, source: str, kind: str, license_text: str, model: Converted) -> str:
    """README.md: source, licence as given, architecture and the config in short. Every value
    comes from the checked config; the name, source and licence are escaped."""
    c = model.config
    name, source = escape_text(name), escape_text(source)
    license_text = escape_text(license_text) if license_text else ""
    cond = f", conditional on {c['c_dim']} classes" if c["c_dim"] else ""
    family, architecture = _architecture(c, model.family)
    lines = [
        "---",
        f"tags: [{family.split('-')[0].lower()}, gan, gan-studio]",
        "---",
        f"# {name}",
        "",
        f"{family} generator ({c['img_resolution']}x{c['img_resolution']} px, "
        f"{c['img_channels']} channels{cond}), converted by GAN Studio's "
        f"`python -m gan.convert` from {FORMAT_NAMES[kind]}.",
        "",
        f"- **Source:** {source}",
        f"- **Licence:** {license_text or 'not given: check the source before any use'}"
        + (f"; {NVIDIA_LICENSE_NOTE}" if kind == "nvidia" else ""),
        f"- **Architecture:** {architecture}",
        f"- **Files:** `{CONFIG_NAME}`, `{WEIGHTS_NAME}` (the EMA generator)"
        + (
            f", `{D_WEIGHTS_NAME}` (the discriminator, its config in the metadata)"
            if model.d_state
            else ""
        )
        + (
            f", `{G_TRAIN_NAME}` (the raw generator, which fine-tuning resumes beside the EMA)"
            if model.g_train_state
            else ""
        )
        + ".",
    ]
    lines += [f"- Note: {escape_text(note)}" for note in model.notes]
    return "\n".join(lines) + "\n"


def write_model(target: Path, model: Converted, card: str) -> Path:
    """config.json + model.safetensors (+ discriminator.safetensors, + the raw G as
    generator_train.safetensors) + README.md, atomically."""
    extra, meta = {}, {}
    if model.d_state is not None:
        extra[D_WEIGHTS_NAME] = _tensors(model.d_state)
        meta[D_WEIGHTS_NAME] = {"format": "pt", "config": json.dumps(model.d_config)}
    if model.g_train_state is not None:
        extra[G_TRAIN_NAME] = _tensors(model.g_train_state)
    return _compat.save_model(target, model.config, _tensors(model.state), card, extra, meta)


def push_folder(folder: Path, repo_id: str, token: str | None = None, private: bool = True) -> str:
    """Upload the folder's safetensors/json/md files to `repo_id` (created private unless told
    otherwise: the usual source weights are non-commercial); returns the commit sha."""
    from huggingface_hub import HfApi

    token = token or os.environ.get("HF_TOKEN") or None
    api = HfApi(endpoint=_compat.hub_endpoint(), token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            allow_patterns=UPLOAD_PATTERNS,
            commit_message=f"Add {folder.name} (converted by gan.convert)",
        )
    except Exception as e:  # HTTP, connection and validation errors alike
        message = str(e).replace(token, "***") if token else str(e)
        raise ConversionError(f"could not push to {repo_id}: {message}") from None
    return str(commit.oid)
