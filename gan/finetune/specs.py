"""The fine-tune recipes' defaults: one table per family in the shape of NVIDIA's `cfg_specs`
(stylegan2-ada-pytorch, `train.py`), keyed by device, where -1 means "NVIDIA's auto value for
the resolution" (`nvidia_auto`). `gan.finetune.recipes` reads them; nothing else holds a
fine-tune default (FinetuneConfig's field defaults are the DCGAN lesson's values, which the
DCGAN recipe uses as they are).
"""

from __future__ import annotations

from typing import Any

# DCGAN: the lesson's recipe; the device sets the run's length, batch and KID size.
DCGAN_SPECS: dict[str, dict[str, Any]] = {
    "cuda": dict(steps=2000, batch_size=64, sample_every=200, kid_samples=1000),
    "cpu": dict(steps=100, batch_size=16, sample_every=20, kid_samples=64),
}

# StyleGAN2: NVIDIA's 'auto' config with its "--resume" settings (ada_kimg 100, no EMA ramp-up)
# and its StyleGAN2 loss (path length at weight 2, lazy R1 and path length, Adam (0, 0.99)).
# Departures, each for a reason:
# - steps, batch (mb), sample_every and d_warmup are this app's: a run is minutes, not days,
#   and a CPU takes a batch of 4 (NVIDIA's --batch overrides mb the same way; γ and ema_kimg
#   still follow NVIDIA's auto batch, as NVIDIA's do);
# - d_warmup trains a fresh D alone first, for a model converted without its D (NVIDIA always
#   has one);
# - d_loss_threshold (the lesson's balance rule) is here as an option, off as in NVIDIA.
_SG2_COMMON: dict[str, Any] = dict(
    lrate=-1, gamma=-1, ema=-1, ramp=None, ada_kimg=100, ada_target=0.6, betas=(0.0, 0.99),
    pl_weight=2.0, pl_batch_shrink=2, pl_decay=0.01, g_reg_interval=4, d_reg_interval=16,
    style_mixing_prob=0.9, freezed=0, d_loss_threshold=0.0, augment="ada", augment_p=0.0,
)  # fmt: skip
SG2_SPECS: dict[str, dict[str, Any]] = {
    "cuda": _SG2_COMMON | dict(steps=2000, mb=-1, d_warmup=20, kid_samples=1000),
    "cpu": _SG2_COMMON | dict(steps=20, mb=4, d_warmup=4, kid_samples=64),
}

# StyleGAN3: NVIDIA stylegan3's `train.py --cfg=stylegan3-t|r --resume` (it has no cfg_specs:
# these are its code's values). G lr 0.0025, D lr 0.002, Adam (0, 0.99), ema_kimg batch*10/32,
# mbstd 4; no style mixing, no path length and no lazy G regularisation (G_reg_interval None:
# 1 here, so G's Adam is uncorrected, as NVIDIA's); on --resume ada_kimg 100, no EMA ramp-up
# and blur_init_sigma 0 (the blur ramp off; this loss has no blur). Departures, each for a reason:
# - NVIDIA requires --gamma; its examples range from 2 to 32 by data set, so the default is
#   StyleGAN2-ADA's auto formula (0.0002 res² / mb), which gives 6.6-8.2 at 1024 px, batch 32
#   as NVIDIA's FFHQ examples do;
# - steps, batch, sample_every, d_warmup and kid_samples as for StyleGAN2 (minutes, not days);
# - magnitude_ema is not updated during a fine-tune (kept from the base model).
_SG3_COMMON: dict[str, Any] = _SG2_COMMON | dict(
    lrate=0.0025, dlr=0.002, pl_weight=0.0, g_reg_interval=1, style_mixing_prob=0.0,
    blur_init_sigma=0.0,
)  # fmt: skip
SG3_SPECS: dict[str, dict[str, Any]] = {
    kind: _SG3_COMMON | {k: v for k, v in spec.items() if k not in _SG3_COMMON}
    for kind, spec in SG2_SPECS.items()
}


def nvidia_auto(resolution: int, gpus: int = 1) -> dict[str, float]:
    """NVIDIA's 'auto' config (`train.py`): its batch mb, mbstd group, lrate, γ and ema_kimg.
    γ and ema follow this mb even when a run gives its own batch, as NVIDIA's do."""
    mb = max(min(gpus * min(4096 // resolution, 32), 64), gpus)
    return {
        "mb": mb,
        "mbstd": min(mb // gpus, 4),
        "lrate": 0.002 if resolution >= 1024 else 0.0025,
        "gamma": 0.0002 * resolution**2 / mb,
        "ema": mb * 10 / 32,
    }


def gpu_batch(resolution: int) -> int:
    """The app's batch per GPU for a StyleGAN2 fine-tune: what fits one 16-24 GB card."""
    return 32 if resolution <= 256 else 16 if resolution <= 512 else 8


def device_kind(device: object) -> str:
    """ "cuda" or "cpu": which column of a table a device reads."""
    return "cuda" if str(device).startswith("cuda") else "cpu"
