"""The two-phase step: each phase, the balance rule, the D warm-up, EMA, Freeze-D."""

from __future__ import annotations

import torch

from gan.finetune.config import FinetuneConfig
from gan.finetune.trainer import GANTrainer, d_blocks, freeze_lower_blocks
from gan.models.dcgan import Discriminator, DiscriminatorConfig, init_weights
from tests.conftest import tiny_generator

CPU = torch.device("cpu")


def tiny_d(image_size: int = 16) -> Discriminator:
    torch.manual_seed(1)
    D = Discriminator(DiscriminatorConfig(ndf=4, image_size=image_size))
    D.apply(init_weights)
    return D


def trainer(**overrides) -> GANTrainer:
    config = FinetuneConfig(batch_size=8, **overrides)
    return GANTrainer(tiny_generator().train(), tiny_d(), config, CPU)


def real_batch(n: int = 8) -> torch.Tensor:
    torch.manual_seed(2)
    return torch.rand(n, 3, 16, 16) * 2 - 1


def _copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def _changed(before: dict, module: torch.nn.Module, key: str) -> bool:
    return not torch.equal(before[key], module.state_dict()[key])


def test_d_step_updates_d_only():
    t = trainer(d_loss_threshold=0.0)
    g0, d0 = _copy(t.G), _copy(t.D)
    fake = t.G(torch.randn(8, t.nz))
    loss, skipped = t.d_step(real_batch(), fake)
    assert not skipped and loss > 0
    assert _changed(d0, t.D, "main.0.weight")
    assert all(torch.equal(v, t.G.state_dict()[k]) for k, v in g0.items() if "weight" in k)


def test_g_step_updates_g_only_and_leaves_d_trainable():
    t = trainer()
    g0 = _copy(t.G)
    d0 = {k: p.clone() for k, p in t.D.named_parameters()}
    loss = t.g_step(real_batch(), t.G(torch.randn(8, t.nz)))
    assert loss > 0
    assert _changed(g0, t.G, "main.0.weight")
    assert all(torch.equal(d0[k], p) for k, p in t.D.named_parameters())
    assert all(p.grad is None for p in t.D.parameters())
    assert all(p.requires_grad for _, p in t.named_d)


def test_balance_rule_skips_d_step_below_threshold():
    t = trainer(d_loss_threshold=100.0)  # every loss is below: D never steps
    d0 = _copy(t.D)
    losses = t.train_step(real_batch())
    assert losses.d_skipped
    assert not _changed(d0, t.D, "main.0.weight")
    t.config.d_loss_threshold = 0.0  # never below: D steps
    assert not t.train_step(real_batch()).d_skipped
    assert _changed(d0, t.D, "main.0.weight")


def test_fresh_d_warms_up_alone_first():
    t = GANTrainer(tiny_generator(), tiny_d(), FinetuneConfig(d_loss_threshold=0), CPU, d_warmup=2)
    g0, d0 = _copy(t.G), _copy(t.D)
    for _ in range(2):
        losses = t.train_step(real_batch())
        assert losses.loss_g > 0 and not losses.d_skipped
    assert _changed(d0, t.D, "main.0.weight") and not _changed(g0, t.G, "main.0.weight")
    assert torch.equal(t.G_ema.state_dict()["main.0.weight"], g0["main.0.weight"])
    t.train_step(real_batch())
    assert _changed(g0, t.G, "main.0.weight")


def test_ema_follows_g_with_warmup():
    t = trainer(ema_decay=0.999)
    before = t.G_ema.state_dict()["main.0.weight"].clone()
    t.train_step(real_batch())
    ema, raw = t.G_ema.state_dict()["main.0.weight"], t.G.state_dict()["main.0.weight"]
    assert not torch.equal(ema, before)
    # after step 1 the decay is (1 + 1) / (10 + 1): the EMA moved 9/11 of the way to G
    assert torch.allclose(ema, before + 9 / 11 * (raw - before), atol=1e-6)


def test_freeze_d_freezes_lower_blocks():
    D = tiny_d()
    assert freeze_lower_blocks(D, 1) == 1
    blocks = d_blocks(D)
    assert not any(p.requires_grad for p in blocks[0].parameters())
    assert all(p.requires_grad for p in blocks[-1].parameters())
    assert freeze_lower_blocks(tiny_d(), 99) == len(blocks) - 1  # never the last one
    t = GANTrainer(tiny_generator(), tiny_d(), FinetuneConfig(), CPU, freeze_d=2)
    assert t.frozen_d == 2 and len(t.named_d) < len(list(t.D.parameters()))


def test_adam_is_fused_only_on_cuda():
    """CPU runs keep the default (for-each) Adam, so their numbers do not change."""
    t = trainer()
    assert not t.opt_g.defaults["fused"] and not t.opt_d.defaults["fused"]
