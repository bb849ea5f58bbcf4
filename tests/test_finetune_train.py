"""The fine-tuning loop: each phase, the balance rule, Freeze-D, EMA, save/resume, stop, caps."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from core import store
from core.errors import UserInputError
from gan import train
from gan.models.dcgan import Discriminator, DiscriminatorConfig, init_weights
from tests.conftest import tiny_generator

CPU = torch.device("cpu")


def tiny_d(image_size: int = 16) -> Discriminator:
    torch.manual_seed(1)
    D = Discriminator(DiscriminatorConfig(ndf=4, image_size=image_size))
    D.apply(init_weights)
    return D


def trainer(**overrides) -> train.GANTrainer:
    config = train.FinetuneConfig(batch_size=8, **overrides)
    return train.GANTrainer(tiny_generator().train(), tiny_d(), config, CPU)


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
    t = train.GANTrainer(
        tiny_generator(), tiny_d(), train.FinetuneConfig(d_loss_threshold=0), CPU, d_warmup=2
    )
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
    assert train.freeze_lower_blocks(D, 1) == 1
    blocks = train.d_blocks(D)
    assert not any(p.requires_grad for p in blocks[0].parameters())
    assert all(p.requires_grad for p in blocks[-1].parameters())
    assert train.freeze_lower_blocks(tiny_d(), 99) == len(blocks) - 1  # never the last one
    t = train.GANTrainer(tiny_generator(), tiny_d(), train.FinetuneConfig(), CPU, freeze_d=2)
    assert t.frozen_d == 2 and len(t.named_d) < len(list(t.D.parameters()))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lr_g", float("nan"), "finite"),
        ("lr_d", -1.0, "learning rate"),
        ("lr_g", 5.0, "learning rate"),
        ("beta1_d", 1.0, r"\[0, 1\)"),
        ("steps", 0, "at least 1"),
        ("batch_size", 1, "at least 2"),
        ("steps", 2.5, "whole number"),
        ("diffaugment", "blur", "DiffAugment"),
        ("d_loss_threshold", float("inf"), "finite"),
    ],
)
def test_absurd_hyperparameters_are_clear_errors(field, value, message):
    with pytest.raises(UserInputError, match=message):
        train.FinetuneConfig(**{field: value}).checked(100)


def test_fixable_hyperparameters_are_corrected():
    config, notes = train.FinetuneConfig(batch_size=64, steps=10**9, max_seconds=1e9).checked(20)
    assert config.batch_size == 20 and config.steps == train.MAX_STEPS
    assert config.max_seconds == train.MAX_SECONDS
    assert len(notes) == 3 and "20 images" in notes[0] + notes[1]


# --- whole runs on a tiny base model ----------------------------------------------------------


@pytest.fixture
def tiny_base(checkpoints):
    G = tiny_generator()
    store.save_pretrained(checkpoints / "tiny", G.config.to_dict(), G.state_dict(), "# tiny\n")
    return "tiny"


def tiny_images(n: int = 16) -> torch.Tensor:
    torch.manual_seed(3)
    return torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8)


def run(job: train.FinetuneJob, **kwargs) -> list[train.Event]:
    return list(train.run_finetune(job, CPU, report_every_s=0, **kwargs))


def test_run_saves_atomically_and_resumes(tiny_base, checkpoints):
    config = train.FinetuneConfig(steps=6, batch_size=4, sample_every=3, n_samples=4, d_warmup=2)
    events = run(train.FinetuneJob(tiny_images(), "ft", tiny_base, config))
    kinds = [e.kind for e in events]
    assert kinds.count("step") == 6 and kinds.count("samples") == 3 and kinds[-1] == "done"
    assert events[-1].samples.shape == (4, 16, 16, 3)
    folder = checkpoints / "ft"
    assert events[-1].checkpoint == folder
    names = {p.name for p in folder.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "README.md",
        train.DISCRIMINATOR_NAME,
        train.OPTIMIZER_NAME,
        train.GENERATOR_TRAIN_NAME,
        train.STATE_NAME,
    } <= names
    assert not [p for p in checkpoints.iterdir() if p.name.startswith(".")]  # no temp folders
    assert store.list_local("dcgan-generator") == ["ft", "tiny"]
    card = (folder / "README.md").read_text()
    assert "tiny" in card and "Training images: 16" in card and "Steps: 6" in card
    state = json.loads((folder / train.STATE_NAME).read_text())
    assert state["steps_done"] == 6 and state["discriminator_origin"].startswith("fresh")

    resumed = run(train.FinetuneJob(tiny_images(), "ft", tiny_base, config, resume=True))
    assert resumed[-1].kind == "done"
    state = json.loads((folder / train.STATE_NAME).read_text())
    assert state["steps_done"] == 12 and len(state["history"]) == 12
    optim = store.read_safetensors(folder / train.OPTIMIZER_NAME)
    assert float(optim["G/main.0.weight/step"]) == 10.0  # carried over; 2 D warm-up steps
    assert float(optim["D/main.0.weight/step"]) == 12.0


def test_new_run_from_a_checkpoint_with_d_uses_freeze_d(tiny_base, checkpoints):
    config = train.FinetuneConfig(steps=2, batch_size=4, freeze_d=1)
    run(train.FinetuneJob(tiny_images(), "first", tiny_base, config))
    events = run(train.FinetuneJob(tiny_images(), "second", "first", config))
    state = json.loads((checkpoints / "second" / train.STATE_NAME).read_text())
    assert state["discriminator_origin"] == "from first" and state["frozen_d"] == 1
    assert not any("no discriminator" in e.message for e in events)


def test_stop_ends_the_run_cleanly_and_keeps_what_was_learned(tiny_base, checkpoints):
    stop = threading.Event()
    config = train.FinetuneConfig(steps=1000, batch_size=4)
    events = []
    for event in train.run_finetune(
        train.FinetuneJob(tiny_images(), "ft", tiny_base, config), CPU, stop, report_every_s=0
    ):
        events.append(event)
        if event.kind == "step" and event.step == 3:
            stop.set()
    assert events[-1].kind == "done" and events[-1].message == "stopped"
    assert json.loads((checkpoints / "ft" / train.STATE_NAME).read_text())["steps_done"] == 3


def test_closing_the_stream_still_saves(tiny_base, checkpoints):
    stream = train.run_finetune(
        train.FinetuneJob(tiny_images(), "ft", tiny_base, train.FinetuneConfig(steps=50)),
        CPU,
        report_every_s=0,
    )
    for event in stream:
        if event.kind == "step" and event.step == 2:
            break
    stream.close()  # what a cancelled request does
    state = json.loads((checkpoints / "ft" / train.STATE_NAME).read_text())
    assert state["steps_done"] == 2 and state["ended"] == "cancelled"


def test_bad_jobs_are_clear_errors(tiny_base, checkpoints):
    images = tiny_images()
    with pytest.raises(UserInputError, match="new name"):
        run(train.FinetuneJob(images, "tiny", "tiny"))
    with pytest.raises(UserInputError, match="invalid model name"):
        run(train.FinetuneJob(images, "../x", "tiny"))
    run(train.FinetuneJob(images, "taken", "tiny", train.FinetuneConfig(steps=1, batch_size=4)))
    with pytest.raises(UserInputError, match="already exists"):
        run(train.FinetuneJob(images, "taken", "tiny"))
    with pytest.raises(UserInputError, match="nothing to resume"):
        run(train.FinetuneJob(images, "never", "tiny", resume=True))
    with pytest.raises(UserInputError, match="16x16"):
        run(train.FinetuneJob(torch.zeros(8, 3, 32, 32, dtype=torch.uint8), "x", "tiny"))
    with pytest.raises(UserInputError, match="no model"):
        run(train.FinetuneJob(images, "x", "no-such-model"))


def test_one_run_per_device_at_a_time():
    waited, entered = [], threading.Event()

    def second_run() -> None:
        with train.device_slot(CPU, lambda: waited.append("told to wait")):
            entered.set()

    with train.device_slot(CPU):
        thread = threading.Thread(target=second_run)
        thread.start()
        assert not entered.wait(0.3)  # it waits while the first run holds the device
        assert waited == ["told to wait"]
    assert entered.wait(5)
    thread.join()
