"""The StyleGAN2 step: exact resume, Freeze-D, balance rule, warm-up, EMA, optimisers."""

from __future__ import annotations

import io
import random
from dataclasses import asdict

import numpy as np
import pytest
import torch

from gan.finetune.sg2_trainer import (
    PermutationSampler,
    SG2TrainConfig,
    StyleGAN2Trainer,
    blocks_to_layers,
    fresh_discriminator,
    lazy_adam,
)
from gan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from tests.gan.finetune.sg2_tiny import one_thread, tiny_d, tiny_g, tiny_images

__all__ = ["one_thread"]  # autouse fixture

# Every path on: ADA moving p every step, lazy R1 and path length, Freeze-D, D warm-up.
BUSY = dict(
    batch_size=4,
    augment_p=0.5,
    ada_interval=1,
    ada_kimg=0.01,
    d_reg_interval=2,
    pl_weight=2.0,
    g_reg_interval=2,
    freezed=4,
    d_warmup=1,
    d_loss_threshold=0.0,
)


def make(seed: int = 0, d_pretrained: bool = True, **overrides) -> StyleGAN2Trainer:
    config = SG2TrainConfig(**(BUSY | overrides))
    G, D = tiny_g(seed), tiny_d(seed + 1)
    return StyleGAN2Trainer(G, D, config, tiny_images(6), d_pretrained=d_pretrained)


def flat(state, prefix: str = "") -> dict:
    """Every leaf of a nested state, keyed by its path."""
    if isinstance(state, dict):
        return {k: v for key, sub in state.items() for k, v in flat(sub, f"{prefix}/{key}").items()}
    if isinstance(state, list | tuple):
        return {k: v for i, sub in enumerate(state) for k, v in flat(sub, f"{prefix}/{i}").items()}
    return {prefix: state}


def assert_same(a: dict, b: dict) -> None:
    fa, fb = flat(a), flat(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        if isinstance(fa[key], torch.Tensor):
            assert torch.equal(fa[key], fb[key]), key
        else:
            assert fa[key] == fb[key] or (fa[key] != fa[key] and fb[key] != fb[key]), key


@pytest.mark.parametrize("d_pretrained", [True, False])  # Freeze-D / fresh D with warm-up
def test_n_steps_equal_two_halves_through_save_and_restore(d_pretrained):
    torch.manual_seed(10)
    np.random.seed(10)
    random.seed(10)
    one = make(d_pretrained=d_pretrained)
    losses_one = [one.train_step() for _ in range(4)]

    torch.manual_seed(10)
    np.random.seed(10)
    random.seed(10)
    first = make(d_pretrained=d_pretrained)
    for _ in range(2):
        first.train_step()
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    del first
    torch.manual_seed(123)  # the resumed process starts from other RNG states and weights
    np.random.seed(123)
    random.seed(123)
    second = make(seed=7, d_pretrained=d_pretrained)
    buffer.seek(0)
    second.load_state_dict(torch.load(buffer, weights_only=True))
    losses_two = [second.train_step() for _ in range(2)]

    assert losses_two == losses_one[2:]
    assert_same(second.state_dict(), one.state_dict())
    assert second.cur_nimg == 16 and second.kimg == 0.016
    assert second.ada.last_rt is not None  # p was adjusted (and carried over: assert_same)


def test_freezed_counts_nvidias_d_layers_and_a_block_count_still_works():
    """NVIDIA's layer order: b16 fromrgb, conv0, conv1, skip; b8 conv0, conv1, skip; ..."""
    trainer = make(freezed=5)
    assert trainer.frozen_d == 5
    assert not any(p.requires_grad for p in trainer.D.b8.conv0.parameters())
    assert all(p.requires_grad is False for p in trainer.D.b16.parameters())
    assert id(trainer.D.b8.conv1.weight) in {id(p) for p in trainer.d_params}
    assert blocks_to_layers(trainer.D, 1) == 4 and blocks_to_layers(trainer.D, 2) == 7  # 3k + 1
    legacy = SG2TrainConfig.from_saved(asdict(SG2TrainConfig(**BUSY)) | {"freeze_d": 2})
    assert legacy.freeze_d_blocks == 2 and "freeze_d" not in asdict(legacy)
    old = StyleGAN2Trainer(tiny_g(), tiny_d(), legacy, tiny_images(6))
    assert old.frozen_d == 7  # an old run's 2 blocks, resumed as NVIDIA's 7 layers


def test_freeze_d_leaves_the_frozen_blocks_untouched():
    trainer = make(freezed=7, pl_weight=0.0)
    assert trainer.frozen_d == 7 and trainer.d_warmup == 0  # no warm-up for a pretrained D
    before = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    for _ in range(3):
        trainer.train_step()
    after = trainer.D.state_dict()
    frozen = ("b16.", "b8.")
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(frozen))
    moved = [k for k in before if not k.startswith(frozen) and not torch.equal(before[k], after[k])]
    assert moved  # the rest trains
    assert all(not p.requires_grad for p in trainer.D.b16.parameters())


def test_balance_rule_skips_the_d_step_and_says_so():
    trainer = make(d_loss_threshold=100.0, r1_gamma=0.0, d_warmup=0, freezed=0)
    before = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    losses = trainer.train_step()
    assert losses["skipped"] is True
    assert all(torch.equal(before[k], v) for k, v in trainer.D.state_dict().items())
    assert make(d_loss_threshold=0.0).train_step()["skipped"] is False


def test_warm_up_trains_d_alone_and_its_loss_falls():
    trainer = make(
        d_pretrained=False, d_warmup=8, augment="none", r1_gamma=0.0, freezed=7, lr_d=0.01
    )
    assert trainer.frozen_d == 0 and "fresh" in trainer.notes[0]  # a fresh D trains whole
    g_before = {k: v.clone() for k, v in trainer.G.state_dict().items() if "w_avg" not in k}
    real, _ = trainer.next_real()
    losses = [trainer.train_step(real) for _ in range(8)]
    assert all(step["warm_up"] for step in losses)
    assert all(torch.isfinite(torch.tensor([s["G"], s["D"]])).all() for s in losses)
    assert losses[-1]["D"] < losses[0]["D"]
    g_after = trainer.G.state_dict()
    assert all(torch.equal(v, g_after[k]) for k, v in g_before.items())


def test_losses_finite_and_reported_on_a_tiny_config():
    trainer = make(d_warmup=0)
    for _ in range(4):
        losses = trainer.train_step()
        values = [losses[k] for k in ("G", "D", "R1", "PL", "ada_p", "kimg")]
        assert all(np.isfinite(values)), losses
    assert losses["ada_p"] >= 0 and losses["kimg"] == pytest.approx(0.016)


def test_fresh_discriminator_fits_the_generator():
    G = tiny_g()
    D = fresh_discriminator(G.config, mbstd_group_size=2)
    assert D(G(torch.randn(2, 8))).shape == (2, 1)
    assert D.img_resolution == G.img_resolution and D.c_dim == G.c_dim


def test_ema_ramp_up_when_asked_starts_at_g_then_lags_behind():
    trainer = make(pl_weight=0.0, ema_rampup=0.05)  # NVIDIA's from-scratch ramp-up
    trainer.train_step()  # cur_nimg = 0 at the update: ramp-up gives beta = 0, G_ema = G
    for p_ema, p in zip(trainer.G_ema.parameters(), trainer.G.parameters(), strict=True):
        assert torch.equal(p_ema, p)
    trainer.train_step()
    assert trainer.update_ema() == pytest.approx(0.5 ** (4 / (8 * 0.05)))


def test_no_ema_ramp_up_by_default_as_nvidias_resume():
    trainer = make(pl_weight=0.0, ema_kimg=0.01)
    assert trainer.config.ema_rampup is None
    trainer.train_step()  # the first update already lags: beta from ema_kimg alone
    assert trainer.update_ema() == pytest.approx(0.5 ** (4 / 10))
    moved = [
        not torch.equal(a, b)
        for a, b in zip(trainer.G_ema.parameters(), trainer.G.parameters(), strict=True)
    ]
    assert any(moved)


def test_auto_settings_follow_nvidias_auto_batch_and_lazy_regularisation_correction():
    config = SG2TrainConfig(batch_size=32).resolved(256)
    assert config.r1_gamma == pytest.approx(0.0002 * 256**2 / 16) == pytest.approx(0.8192)
    assert config.ema_kimg == pytest.approx(16 * 10 / 32) and config.lr_g == 0.0025
    small = SG2TrainConfig(batch_size=4).resolved(64)  # NVIDIA's auto batch at 64 px: 32
    assert small.r1_gamma == pytest.approx(0.0002 * 64**2 / 32) == pytest.approx(0.0256)
    assert SG2TrainConfig(batch_size=4).resolved(256, gpus=8).r1_gamma == pytest.approx(
        0.0002 * 256**2 / 64
    )
    opt = lazy_adam([torch.nn.Parameter(torch.zeros(1))], lr=0.002, interval=16)
    group = opt.param_groups[0]
    assert group["lr"] == pytest.approx(0.002 * 16 / 17)
    assert group["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))


def test_sampler_visits_every_image_once_per_epoch_and_resumes():
    sampler = PermutationSampler(5, seed=3)
    first = sampler.take(5)
    assert sorted(first) == list(range(5))
    sampler.take(2)
    other = PermutationSampler(5, seed=0)
    other.load_state_dict(sampler.state_dict())
    assert other.state_dict() == {"epoch": 1, "index": 2, "seed": 3}
    assert list(other.take(6)) == list(sampler.take(6))


def test_conditional_models_train_on_their_labels():
    torch.manual_seed(0)
    G = StyleGAN2Generator(StyleGAN2Config.from_dict(tiny_g().config.to_dict() | {"c_dim": 3}))
    D = fresh_discriminator(G.config, mbstd_group_size=2)
    labels = torch.eye(3)[torch.tensor([0, 1, 2, 0, 1, 2])]
    config = SG2TrainConfig(**(BUSY | {"pl_weight": 0.0}))
    trainer = StyleGAN2Trainer(G, D, config, tiny_images(6), labels=labels)
    for _ in range(2):
        losses = trainer.train_step()
        assert np.isfinite([losses["G"], losses["D"], losses["R1"]]).all()
    with pytest.raises(ValueError, match="labels"):
        StyleGAN2Trainer(G, D, config, tiny_images(6))
    with pytest.raises(ValueError, match="unconditional"):
        StyleGAN2Trainer(tiny_g(), tiny_d(), config, tiny_images(6), labels=labels)


def test_ada_p_rises_in_training_when_d_overfits_two_images():
    """D alone (warm-up) on two images learns them; its signs on reals push p up from 0."""
    config = SG2TrainConfig(
        batch_size=2, augment_p=0.0, ada_interval=2, ada_kimg=0.08, r1_gamma=0.0,
        pl_weight=0.0, d_warmup=12, lr_d=0.01, d_loss_threshold=0.0,
    )  # fmt: skip
    G, D = tiny_g(), fresh_discriminator(tiny_g().config, mbstd_group_size=2)
    trainer = StyleGAN2Trainer(G, D, config, tiny_images(2), d_pretrained=False)
    steps = [trainer.train_step() for _ in range(12)]
    assert steps[0]["ada_p"] == 0.0
    assert steps[-1]["ada_p"] > 0.0  # each adjustment is 2 * 2 / 80 = 0.05
    assert max(step["ada_p"] for step in steps) >= 0.1


def test_several_processes_count_the_global_batch(monkeypatch):
    """As NVIDIA's loop: kimg, ADA's step and the EMA's beta use batch_gpu * processes."""
    import gan.finetune.sg2_trainer as sg2_trainer

    monkeypatch.setattr(sg2_trainer, "_world", lambda: 2)  # 2 processes, the reductions stubbed
    monkeypatch.setattr(sg2_trainer.dist, "all_reduce", lambda *a, **k: None)
    monkeypatch.setattr(sg2_trainer.dist, "broadcast", lambda *a, **k: None)
    trainer = make(d_warmup=0, ema_kimg=0.01)
    trainer.train_step()
    assert trainer.cur_nimg == 8 and trainer.ada.batch_size == 8
    assert trainer.update_ema() == pytest.approx(0.5 ** (8 / 10))
