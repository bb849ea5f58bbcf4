"""Whole fine-tuning runs on a tiny base model: save/resume, Freeze-D from a saved D, stop,
cancel, clear errors."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from core import store
from core.errors import UserInputError
from core.events import Progress
from gan.finetune.checkpoint import (
    DISCRIMINATOR_NAME,
    GENERATOR_TRAIN_NAME,
    OPTIMIZER_NAME,
    STATE_NAME,
)
from gan.finetune.config import FinetuneConfig, FinetuneJob
from gan.finetune.loop import run_finetune
from tests.conftest import tiny_generator

CPU = torch.device("cpu")


# --- whole runs on a tiny base model ----------------------------------------------------------


@pytest.fixture
def tiny_base(checkpoints):
    G = tiny_generator()
    store.save_pretrained(checkpoints / "tiny", G.config.to_dict(), G.state_dict(), "# tiny\n")
    return "tiny"


def tiny_images(n: int = 16) -> torch.Tensor:
    torch.manual_seed(3)
    return torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8)


def run(job: FinetuneJob, **kwargs) -> list[Progress]:
    return list(run_finetune(job, CPU, report_every_s=0, **kwargs))


def test_run_saves_atomically_and_resumes(tiny_base, checkpoints):
    config = FinetuneConfig(steps=6, batch_size=4, sample_every=3, n_samples=4, d_warmup=2)
    events = run(FinetuneJob(tiny_images(), "ft", tiny_base, config))
    steps = [e for e in events if e.losses]
    samples = [e for e in events if e.preview is not None and not e.done]
    assert len(steps) == 6 and len(samples) == 3 and events[-1].done
    assert all(e.done for e in events[-1:]) and not any(e.done for e in events[:-1])
    assert events[-1].preview.shape == (4, 16, 16, 3)
    assert set(steps[-1].losses) == {"loss_d", "loss_g"} and steps[-1].step == 6
    folder = checkpoints / "ft"
    assert events[-1].output == folder
    names = {p.name for p in folder.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "README.md",
        DISCRIMINATOR_NAME,
        OPTIMIZER_NAME,
        GENERATOR_TRAIN_NAME,
        STATE_NAME,
    } <= names
    assert not [p for p in checkpoints.iterdir() if p.name.startswith(".")]  # no temp folders
    assert store.list_local("dcgan-generator") == ["ft", "tiny"]
    card = (folder / "README.md").read_text()
    assert "tiny" in card and "Training images: 16" in card and "Steps: 6" in card
    state = json.loads((folder / STATE_NAME).read_text())
    assert state["steps_done"] == 6 and state["discriminator_origin"].startswith("fresh")

    resumed = run(FinetuneJob(tiny_images(), "ft", tiny_base, config, resume=True))
    assert resumed[-1].done
    state = json.loads((folder / STATE_NAME).read_text())
    assert state["steps_done"] == 12 and len(state["history"]) == 12
    optim = store.read_safetensors(folder / OPTIMIZER_NAME)
    assert float(optim["G/main.0.weight/step"]) == 10.0  # carried over; 2 D warm-up steps
    assert float(optim["D/main.0.weight/step"]) == 12.0


def test_new_run_from_a_checkpoint_with_d_uses_freeze_d(tiny_base, checkpoints):
    config = FinetuneConfig(steps=2, batch_size=4, freeze_d=1)
    run(FinetuneJob(tiny_images(), "first", tiny_base, config))
    events = run(FinetuneJob(tiny_images(), "second", "first", config))
    state = json.loads((checkpoints / "second" / STATE_NAME).read_text())
    assert state["discriminator_origin"] == "from first" and state["frozen_d"] == 1
    assert not any("no discriminator" in e.message for e in events)


def test_stop_ends_the_run_cleanly_and_keeps_what_was_learned(tiny_base, checkpoints):
    stop = threading.Event()
    config = FinetuneConfig(steps=1000, batch_size=4)
    events = []
    for event in run_finetune(
        FinetuneJob(tiny_images(), "ft", tiny_base, config), CPU, stop, report_every_s=0
    ):
        events.append(event)
        if event.losses and event.step == 3:
            stop.set()
    assert events[-1].done and events[-1].stopped and events[-1].message == "stopped"
    assert json.loads((checkpoints / "ft" / STATE_NAME).read_text())["steps_done"] == 3


def test_closing_the_stream_still_saves(tiny_base, checkpoints):
    stream = run_finetune(
        FinetuneJob(tiny_images(), "ft", tiny_base, FinetuneConfig(steps=50)),
        CPU,
        report_every_s=0,
    )
    for event in stream:
        if event.losses and event.step == 2:
            break
    stream.close()  # what a cancelled request does
    state = json.loads((checkpoints / "ft" / STATE_NAME).read_text())
    assert state["steps_done"] == 2 and state["ended"] == "cancelled"


def test_bad_jobs_are_clear_errors(tiny_base, checkpoints):
    images = tiny_images()
    with pytest.raises(UserInputError, match="new name"):
        run(FinetuneJob(images, "tiny", "tiny"))
    with pytest.raises(UserInputError, match="invalid model name"):
        run(FinetuneJob(images, "../x", "tiny"))
    run(FinetuneJob(images, "taken", "tiny", FinetuneConfig(steps=1, batch_size=4)))
    with pytest.raises(UserInputError, match="already exists"):
        run(FinetuneJob(images, "taken", "tiny"))
    with pytest.raises(UserInputError, match="nothing to resume"):
        run(FinetuneJob(images, "never", "tiny", resume=True))
    with pytest.raises(UserInputError, match="16x16"):
        run(FinetuneJob(torch.zeros(8, 3, 32, 32, dtype=torch.uint8), "x", "tiny"))
    with pytest.raises(UserInputError, match="no model"):
        run(FinetuneJob(images, "x", "no-such-model"))


def test_pause_is_called_once_per_training_step(tiny_base, checkpoints):
    """The app's priority gate gets one pause per step (and may wait there)."""
    config = FinetuneConfig(steps=5, batch_size=4, sample_every=5, n_samples=4, d_warmup=1)
    pauses: list[int] = []
    events = run(
        FinetuneJob(tiny_images(), "paused", tiny_base, config), pause=lambda: pauses.append(1)
    )
    assert len(pauses) == 5 and events[-1].done
