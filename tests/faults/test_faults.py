"""Faults a public Space meets: out-of-memory, a process killed mid-write or mid-run, the Hub
gone. Each must leave the app serving and every saved model loadable."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
import torch

import app
from core import store
from gan.loading import load_generator
from tests.api_helpers import small_style_pair
from tests.conftest import ROOT, launch_app, tiny_generator

PYTHON = sys.executable


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GRADIO_"))}
    env.update(PYTHONPATH=str(ROOT), LOG_LEVEL="INFO", **extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- GPU out of memory ------------------------------------------------------------------------


class OutOfMemoryOnce:
    """Stands in for a service method: raises CUDA's out-of-memory error once when armed."""

    def __init__(self, real):
        self.real, self.calls, self.armed = real, 0, False

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.armed:
            self.armed = False
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.real(*args, **kwargs)


@pytest.fixture(scope="module")
def oom(app_services):
    """An app of its own whose services can be made to run out of memory once."""
    from gradio_client import Client

    from ui.services import build_services

    services = build_services()
    services.studio.synthesize = OutOfMemoryOnce(services.studio.synthesize)
    services.stylist.stylize = OutOfMemoryOnce(services.stylist.stylize)
    released: list[str] = []
    services.release_memory = lambda: released.append("released")
    demo, url = launch_app(services)
    yield services, Client(url, verbose=False), released
    demo.close()


@pytest.mark.parametrize(
    ("api", "kwargs"),
    [
        ("/generate", {"seeds": "1-4"}),
        ("/interpolate", {"seeds": "1, 2", "frames": 3}),
    ],
)
def test_out_of_memory_is_a_clear_message_and_the_next_request_works(oom, api, kwargs):
    services, client, released = oom
    fake = services.studio.synthesize
    released.clear()
    calls = fake.calls
    fake.armed = True
    with pytest.raises(Exception, match="ran out of memory"):
        client.predict(**kwargs, api_name=api)
    assert released, "cached GPU memory is given back after an out-of-memory error"
    result = client.predict(**kwargs, api_name=api)
    assert result and fake.calls == calls + 2


def stylize_small(client, pair: tuple[str, str]):
    from gradio_client import handle_file

    return client.predict(
        content=handle_file(pair[0]),
        style=handle_file(pair[1]),
        steps=2,
        size=64,
        api_name="/stylize",
    )


def test_out_of_memory_in_style_transfer_is_clear_and_the_next_run_works(oom, tmp_path):
    services, client, _ = oom
    pair = small_style_pair(tmp_path)
    services.stylist.stylize.armed = True
    with pytest.raises(Exception, match="ran out of memory"):
        stylize_small(client, pair)
    image, info, _ = stylize_small(client, pair)
    assert image and "Done" in info


def test_style_transfer_offline_uses_the_local_network_and_says_so(client, tmp_path):
    """The session's app runs with HF_HUB_OFFLINE=1: VGG19 is not cached, EfficientNet is."""
    _, info, _ = stylize_small(client, small_style_pair(tmp_path))
    assert "EfficientNet-Lite0" in info and "offline" in info


# --- a process killed while writing a checkpoint ------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, torch
    from pathlib import Path
    from core import store
    target, version = Path(sys.argv[1]), 2
    while True:  # rewrite the model forever; the test kills us mid-write
        w = torch.full((8 * 2**20,), float(version))  # 32 MB
        store.save_pretrained(target, {"v": version}, {"w": w}, f"v{version}")
        version += 1
    """
)


def assert_consistent(target: Path) -> int:
    """The model loads whole: config, weights and card all from the same save."""
    config = json.loads((target / "config.json").read_text())
    weights = store.read_safetensors(target / "model.safetensors")["w"]
    assert torch.all(weights == float(config["v"]))
    assert (target / "README.md").read_text() == f"v{config['v']}"
    return config["v"]


def test_a_process_killed_during_a_checkpoint_write_leaves_a_whole_checkpoint(checkpoints):
    target = checkpoints / "model"
    store.save_pretrained(target, {"v": 1}, {"w": torch.ones(8 * 2**20)}, "v1")
    rng = random.Random(0)
    caught_mid_write = 0
    for _ in range(4):
        child = subprocess.Popen(
            [PYTHON, "-c", WRITER, str(target)], env=child_env(), cwd=ROOT, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 60
            while not list(checkpoints.glob(".model.tmp-*")):  # wait for a write in progress
                assert child.poll() is None, child.stderr.read().decode()
                assert time.monotonic() < deadline, "the writer never started a save"
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.05))  # somewhere inside the write (or the swap)
            caught_mid_write += bool(list(checkpoints.glob(".model.tmp-*")))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stderr.close()
        assert store.list_local() == ["model"]  # temp folders are never listed as models
        assert assert_consistent(store.resolve("model")) >= 1
        assert load_generator_ok(target)
    assert caught_mid_write >= 1


def load_generator_ok(target: Path) -> bool:
    return store.read_safetensors(target / "model.safetensors")["w"].numel() == 8 * 2**20


def test_stale_temp_folders_from_killed_writers_are_cleaned_up(checkpoints):
    store.save_pretrained(checkpoints / "model", {"v": 1}, {"w": torch.ones(2)}, "v1")
    stale = checkpoints / ".model.tmp-dead"
    fresh = checkpoints / ".model.tmp-busy"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"half")
    old = time.time() - store.STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    assert store.list_local() == ["model"]
    assert not stale.exists()
    assert fresh.exists()  # may still be being written by someone


# --- a fine-tune stopped or killed mid-run ------------------------------------------------------


@pytest.fixture
def finetune_data(tmp_path) -> Path:
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    gen = torch.Generator().manual_seed(0)
    for i in range(8):
        pixels = torch.randint(0, 256, (40, 40, 3), generator=gen, dtype=torch.uint8).numpy()
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return folder


def run_cli(args: list[str], checkpoints: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "-m", "gan.finetune", *args],
        env=child_env(GAN_STUDIO_CHECKPOINTS=str(checkpoints), GAN_STUDIO_DEVICE="cpu"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_step(child: subprocess.Popen, step: int, timeout_s: float = 120) -> None:
    """Read the run's log until it reports a step >= `step` (it logs twice a second)."""
    lines, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line and child.poll() is not None:
            break
        lines.append(line)
        if (found := re.search(r"step (\d+)/", line)) and int(found.group(1)) >= step:
            return
    raise AssertionError(f"step {step} never came:\n{''.join(lines[-30:])}")


def tiny_base_model(checkpoints: Path) -> str:
    G = tiny_generator(image_size=16)
    store.save_pretrained(checkpoints / "tiny", G.config.to_dict(), G.state_dict(), "# tiny\n")
    return "tiny"


COMMON = ["--no-kid", "--batch-size", "4", "--sample-every", "100000", "--n-samples", "2"]


def test_a_fine_tune_interrupted_mid_run_saves_a_loadable_checkpoint(checkpoints, finetune_data):
    base = tiny_base_model(checkpoints)
    args = ["--data", str(finetune_data), "--name", "ft", "--model", base, "--steps", "100000"]
    child = run_cli([*args, *COMMON], checkpoints)
    try:
        wait_for_step(child, 5)
        child.send_signal(signal.SIGINT)  # Ctrl-C / the Stop button: stop cleanly and save
        output, _ = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 0, output
    state = json.loads((checkpoints / "ft" / "training_state.json").read_text())
    assert state["ended"] == "stopped" and 5 <= state["steps_done"] < 100000
    generator = load_generator("ft", torch.device("cpu"))
    with torch.no_grad():
        assert torch.isfinite(generator(torch.randn(2, generator.config.nz))).all()


def test_a_fine_tune_killed_mid_run_leaves_the_previous_checkpoint_resumable(
    checkpoints, finetune_data
):
    base = tiny_base_model(checkpoints)
    args = ["--data", str(finetune_data), "--name", "ft", "--model", base]
    first = run_cli([*args, "--steps", "3", *COMMON], checkpoints)
    assert first.wait(timeout=120) == 0, first.stdout.read()
    first.stdout.close()
    before = (checkpoints / "ft" / "model.safetensors").read_bytes()
    child = run_cli([*args, "--resume", "--steps", "100000", *COMMON], checkpoints)
    try:
        wait_for_step(child, 3)
    finally:
        child.send_signal(signal.SIGKILL)  # no chance to save: the previous run must survive
        child.wait()
        child.stdout.close()
    assert (checkpoints / "ft" / "model.safetensors").read_bytes() == before
    again = run_cli([*args, "--resume", "--steps", "2", *COMMON], checkpoints)
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0, output
    state = json.loads((checkpoints / "ft" / "training_state.json").read_text())
    assert state["steps_done"] == 5


def test_sigterm_stops_a_fine_tune_cleanly(checkpoints, finetune_data):
    base = tiny_base_model(checkpoints)
    args = ["--data", str(finetune_data), "--name", "ft", "--model", base, "--steps", "100000"]
    child = run_cli([*args, *COMMON], checkpoints)
    try:
        wait_for_step(child, 3)
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=120)
    finally:
        child.kill()
    assert (checkpoints / "ft" / "training_state.json").is_file()


def wait_until_serving(url: str, child: subprocess.Popen, log_path: Path, limit_s: float) -> None:
    started = time.monotonic()
    while True:
        assert child.poll() is None, log_path.read_text()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() - started < limit_s, log_path.read_text()
        time.sleep(0.25)


def test_sigterm_to_the_app_saves_a_running_fine_tune(tmp_path, checkpoints, finetune_data):
    """A Space shutting down sends SIGTERM: the running fine-tune stops, saves, and only then
    does the server exit."""
    from gradio_client import Client, handle_file

    base = tiny_base_model(checkpoints)
    port, log_path = free_port(), tmp_path / "app.log"
    env = child_env(
        GAN_STUDIO_CHECKPOINTS=str(checkpoints),
        GAN_STUDIO_DEVICE="cpu",
        GRADIO_SERVER_PORT=str(port),
        HF_HUB_OFFLINE="1",
    )
    with open(log_path, "w") as log:
        child = subprocess.Popen(
            [PYTHON, "app.py"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_until_serving(url, child, log_path, limit_s=90)
            job = Client(url, verbose=False).submit(
                images=[handle_file(str(p)) for p in sorted(finetune_data.iterdir())],
                model=base,
                name="sigterm-run",
                steps=20_000,  # the UI's cap; the run is stopped long before
                batch_size=4,
                kid=False,
                api_name="/finetune",
            )
            deadline = time.monotonic() + 120
            while "Step **" not in str(job.outputs()[-1:]):  # until training is under way
                assert not job.done() and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            child.send_signal(signal.SIGTERM)
            assert child.wait(timeout=90) is not None
        finally:
            child.kill()
    state = json.loads((checkpoints / "sigterm-run" / "training_state.json").read_text())
    assert state["steps_done"] >= 1, log_path.read_text()
    assert load_generator("sigterm-run", torch.device("cpu")).config.image_size == 16


# --- the Hub unreachable -------------------------------------------------------------------------


class BlackHole:
    """A TCP port that accepts connections and never answers: the network 'gone' at its worst
    (a closed port fails fast; this one makes every request wait for its timeout)."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_with_the_hub_unreachable_the_app_serves_within_seconds_and_says_so(tmp_path):
    port = free_port()
    log_path = tmp_path / "app.log"
    with BlackHole() as endpoint, open(log_path, "w") as log:
        env = child_env(
            HF_ENDPOINT=endpoint,
            HF_HUB_CACHE=str(tmp_path / "hf-cache"),
            GRADIO_SERVER_PORT=str(port),
            GAN_STUDIO_DEVICE="cpu",
            GAN_STUDIO_HUB_MODELS="someone/faces@main",
        )
        child = subprocess.Popen(
            [PYTHON, "app.py"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            # Importing torch and gradio on a 2-core CI machine takes ~10 s; a start-up that
            # waited for huggingface_hub's retries would take minutes.
            wait_until_serving(url, child, log_path, limit_s=90)
            from gradio_client import Client

            client = Client(url, verbose=False)
            faces, _, _ = client.predict(seeds="1-2", api_name="/generate")
            assert len(faces) == 2
            with pytest.raises(Exception, match="cannot be reached"):
                client.predict(seeds="1", model="someone/faces@main", api_name="/generate")
            _, info, _ = stylize_small(client, small_style_pair(tmp_path))  # VGG19 is on the Hub
            assert "EfficientNet-Lite0" in info and "offline" in info
        finally:
            child.terminate()
            child.wait(timeout=30)
    assert "is unreachable" in log_path.read_text()


def test_the_header_says_when_the_hub_is_offline(offline_hub):
    start = time.monotonic()
    assert app.hub_status() == "Hub: offline, serving local models"
    assert time.monotonic() - start < 5
