"""Each conversion in a fresh, capped child process; the parent checks the result before use.

`convert_sandboxed(source, target, ...)`:

1. refuses a source over the input cap;
2. runs `python -m gan.convert.sandbox` (the child) with a scrubbed environment: no Hugging
   Face token or any other variable of the parent's but PATH and the locale, `HF_HUB_OFFLINE=1`,
   proxies pointing at a closed local port, `TMPDIR` in the scratch folder. The child reads only
   the local file it is given, and it replaces Python's socket constructors with a refusal.
   This keeps the token out of reach and stops the Hub client and any HTTP library; it is not
   an OS-level network block (no network namespace or seccomp filter: those need privileges a
   Space does not have);
3. the child sets its own `RLIMIT_AS` (its address space after the imports plus the memory cap:
   CUDA builds of torch map about 3 GB at import), `RLIMIT_FSIZE` (the output cap) and
   `RLIMIT_CORE` 0 before it opens the file, converts, and writes into a scratch folder;
   the parent kills its whole process group at the wall-time cap;
4. the parent checks the scratch folder (exact file names, the output cap, and a load as the
   app loads: `from_pretrained`, the generator built and run on one latent on the CPU, the
   discriminator built and loaded) and only then moves it into place atomically.

Any failure (a refusal, a crash, a signal, a cap, a timeout) is a `ConversionError` in the
parent and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gan.convert import limits
from gan.convert.errors import ConversionError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE")
_CLOSED_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens there
_EXIT_REFUSED, _EXIT_MEMORY, _EXIT_OUTPUT = 2, 3, 4
_FILES = {
    "config.json", "model.safetensors", "README.md", "discriminator.safetensors",
    "generator_train.safetensors",
}  # fmt: skip


@dataclass(frozen=True)
class Caps:
    """The sandbox's caps (defaults in `gan.convert.limits`)."""

    memory_bytes: int = limits.MEMORY_BYTES
    wall_seconds: float = limits.WALL_SECONDS
    input_bytes: int = limits.MAX_INPUT_BYTES
    output_bytes: int = limits.MAX_OUTPUT_BYTES


def child_env(scratch: Path) -> dict[str, str]:
    """The child's whole environment: nothing of the parent's but the path and the locale."""
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    proxies = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    return env | {
        "PYTHONPATH": str(ROOT),
        "PYTHONNOUSERSITE": "1",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "OMP_NUM_THREADS": "1",
        **dict.fromkeys(proxies, _CLOSED_PROXY),
        "no_proxy": "",
        "NO_PROXY": "",
    }


def _run_child(request: dict, scratch: Path, caps: Caps) -> None:
    """Run the child; raise `ConversionError` unless it exits 0."""
    cmd = [sys.executable, "-m", "gan.convert.sandbox", json.dumps(request)]
    proc = subprocess.Popen(
        cmd,
        cwd=scratch,
        env=child_env(scratch),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, killed as a whole
    )
    try:
        _, err = proc.communicate(timeout=caps.wall_seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):  # it may have ended meanwhile
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ConversionError(
            f"the conversion took over {caps.wall_seconds:g} s and was stopped"
        ) from None
    if proc.returncode != 0:
        raise ConversionError(_child_failure(proc.returncode, err.decode(errors="replace")))


def _child_failure(code: int, stderr: str) -> str:
    """The parent's message for a failed child (the child's own message when it gave one)."""
    message = ""
    for line in reversed(stderr.strip().splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                message = str(json.loads(line).get("error", ""))[:1000]
            break
    if code == _EXIT_REFUSED and message:
        return message
    if code == _EXIT_MEMORY:
        return "the conversion needed more memory than its cap and was stopped"
    if code == _EXIT_OUTPUT:
        return "the converted model is larger than the output cap"
    if code < 0:
        return f"the conversion process crashed (signal {signal.Signals(-code).name})"
    log.warning("conversion child failed (%s): %s", code, stderr[-2000:])
    return f"the conversion process failed (exit {code})"


def _check_output(folder: Path, name: str, caps: Caps) -> None:
    """The files the writer writes, within the output cap, and loadable as the app loads them."""
    files = {p.name: p for p in folder.iterdir()}
    if not {"config.json", "model.safetensors", "README.md"} <= files.keys() <= _FILES:
        raise ConversionError("the conversion wrote an unexpected set of files")
    if any(not p.is_file() or p.is_symlink() for p in files.values()):
        raise ConversionError("the conversion wrote something other than plain files")
    if sum(p.stat().st_size for p in files.values()) > caps.output_bytes:
        raise ConversionError("the converted model is larger than the output cap")
    try:
        _load_as_the_app_does(folder, name)
    except ConversionError:
        raise
    except Exception as e:  # ModelLoadError, shape or config errors
        raise ConversionError(f"the converted model does not load: {str(e)[:300]}") from None


def _load_as_the_app_does(folder: Path, name: str) -> None:
    import torch

    from gan.models import families

    G = families.load(folder, "G", label=name).eval()
    z = torch.randn(1, G.config.z_dim, generator=torch.Generator().manual_seed(0))
    c = torch.zeros(1, G.config.c_dim)
    with torch.no_grad():
        img = G(z, c)
    size = G.config.img_resolution
    if tuple(img.shape) != (1, G.config.img_channels, size, size):
        raise ConversionError("the converted generator gives images of the wrong size")
    if (folder / "discriminator.safetensors").is_file():
        families.load(folder, "D")
    if (folder / "generator_train.safetensors").is_file():  # the raw G: G_ema's config
        families.load(folder, "G", "generator_train.safetensors", label=name)


def convert_sandboxed(
    source: Path, target: Path, label: str, license_text: str = "", caps: Caps | None = None
) -> Path:
    """Convert `source` into the model folder `target` through the sandbox; returns `target`."""
    from gan.convert import _compat

    caps = caps or Caps()
    source, name = Path(source).resolve(), _compat.validate_name(target.name)
    if not source.is_file() or source.stat().st_size > caps.input_bytes:
        raise ConversionError(f"{source.name} is missing or over the {caps.input_bytes} byte cap")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-convert-", dir=target.parent))
    try:
        out = scratch / "out"
        request = {
            "source": str(source),
            "out": str(out),
            "name": name,
            "label": label,
            "license": license_text,
            "memory_bytes": caps.memory_bytes,
            "output_bytes": caps.output_bytes,
        }
        _run_child(request, scratch, caps)
        _check_output(out, name, caps)
        return _compat.store.atomic_write_dir(target, lambda tmp: _move_files(out, tmp))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _move_files(src: Path, dst: Path) -> None:
    for f in src.iterdir():
        os.replace(f, dst / f.name)


# --- the child ------------------------------------------------------------------------------------


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _limit_self(memory_bytes: int, output_bytes: int) -> None:
    """Caps on this process, set after the imports and before the file is opened."""
    import resource  # POSIX only: the child runs on Linux (a Space, a server)

    address_space = _vm_size() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output_bytes, output_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _block_network() -> None:
    """No Python-level socket in the child: a request from any code path fails at once. (No
    code from the file runs, so this guards against our own bugs; it is no OS-level block.)"""
    import socket

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("the conversion sandbox has no network")

    socket.socket = refuse  # type: ignore[assignment,misc]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]


def child_main(request: dict) -> int:
    """Convert one local file into `out` (the child's whole job); exit codes as above."""
    import torch  # noqa: F401  (before the cap: the imports are not the file's doing)

    from gan.convert.source import convert_source
    from gan.convert.writer import model_card, write_model

    _limit_self(int(request["memory_bytes"]), int(request["output_bytes"]))
    _block_network()
    try:
        kind, model = convert_source(Path(request["source"]))
        card = model_card(request["name"], request["label"], kind, request["license"], model)
        write_model(Path(request["out"]), model, card)
    except ConversionError as e:
        print(json.dumps({"error": str(e)}), file=sys.stderr)
        return _EXIT_REFUSED
    except MemoryError:
        return _EXIT_MEMORY
    except Exception as e:  # torch's allocator and the safetensors writer raise their own types
        text = str(e)
        if "alloc" in text:  # "DefaultCPUAllocator: can't allocate memory"
            return _EXIT_MEMORY
        if getattr(e, "errno", None) == errno.EFBIG or "os error 27" in text:  # RLIMIT_FSIZE
            return _EXIT_OUTPUT  # (Python ignores SIGXFSZ, so the write fails instead)
        raise
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(child_main(json.loads(sys.argv[1])))
