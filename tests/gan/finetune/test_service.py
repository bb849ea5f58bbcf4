"""FineTuner: one run per device at a time; a run through the service streams and saves."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from core import store
from core.errors import UserInputError
from gan.finetune.config import FinetuneConfig
from gan.finetune.service import FineTuner
from tests.conftest import tiny_generator

CPU = torch.device("cpu")


def test_one_run_per_device_at_a_time():
    tuner = FineTuner(CPU)
    waited, entered = [], threading.Event()

    def second_run() -> None:
        with tuner.device_slot(lambda: waited.append("told to wait")):
            entered.set()

    with tuner.device_slot():
        thread = threading.Thread(target=second_run)
        thread.start()
        assert not entered.wait(0.3)  # it waits while the first run holds the device
        assert waited == ["told to wait"]
    assert entered.wait(5)
    thread.join()


def test_a_run_through_the_service_prepares_streams_saves_and_stops(checkpoints, tmp_path):
    G = tiny_generator()
    store.save_pretrained(checkpoints / "tiny", G.config.to_dict(), G.state_dict(), "# tiny\n")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(
            tmp_path / f"{i}.png"
        )
        paths.append(str(tmp_path / f"{i}.png"))
    tuner = FineTuner(CPU)
    config = FinetuneConfig(steps=10**4, batch_size=4, kid_samples=0, sample_every=10**4)
    run = tuner.start(paths, "tiny", " svc-ft ", config)
    assert run.job.name == "svc-ft" and len(run.dataset) == 10 and run.dataset.image_size == 16
    events = []
    for event in run.events("me"):
        events.append(event)
        if event.preview is not None and not event.done:  # the first samples, before step 1
            assert tuner.stop("me") and not tuner.stop("someone else")
    assert events[-1].done and events[-1].stopped and events[-1].output == checkpoints / "svc-ft"
    assert tuner.runs.active() == 0  # the stop flag lived only while the run ran
    with pytest.raises(UserInputError, match="invalid model name"):
        tuner.start(paths, "tiny", "../x", config)
