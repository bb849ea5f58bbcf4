"""Converting a full-size NVIDIA training snapshot: time and memory of the strict reader and of
the sandbox.

Writes a random snapshot in NVIDIA's pickle layout (G, D and G_ema; the layout writer of the
tests, no reference code) at `--res` px with NVIDIA's FFHQ config (channel_base 32768,
channel_max 512, 8 mapping layers), then measures:

- the reader in a fresh process (`convert_network_pickle`): wall seconds and peak RSS;
- the sandbox (`convert_sandboxed`): the child (imports, read, write) and the parent's check
  (load as the app does, one forward on the CPU), then the atomic move.

    python -m bench.convert_snapshot --res 1024      # about 380 MB of pickle
    python -m bench.convert_snapshot --res 64 --channel-max 32 --out /tmp/c.json   # a tiny form
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results_meta import stamp  # noqa: E402

log = logging.getLogger("bench.convert_snapshot")
RESULTS = ROOT / "bench" / "results" / "convert_snapshot_cpu.json"
# The code its results measure (bench.stale): the reader, the sandbox, the app's loader.
MEASURES = ["gan/convert", "gan/models", "core/store.py", "bench/convert_snapshot.py"]

_READ = """
import resource, sys, time
from gan.convert.nvidia_pickle import convert_network_pickle
t = time.monotonic()
with open(sys.argv[1], "rb") as f:
    convert_network_pickle(f)
print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def write_snapshot(path: Path, res: int, channel_max: int = 512) -> None:
    """A random snapshot in NVIDIA's layout: FFHQ's config, channels capped at `channel_max`."""
    from gan.convert import layout
    from tests.gan.convert import fakes

    gc = fakes.tiny_g_config(res=res) | {"z_dim": 512, "w_dim": 512, "mapping_layers": 8}
    channels = {"channel_base": 32768, "channel_max": channel_max}
    gc |= channels
    dc = fakes.tiny_d_config(res=res) | channels
    g = fakes.random_state(layout.generator_shapes(gc))
    d = fakes.random_state(layout.discriminator_shapes(dc))
    path.write_bytes(fakes.nvidia_pickle_bytes(gc, g, dc, d))


def measure_read(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _READ, str(path)], cwd=ROOT, capture_output=True, check=True
    )
    seconds, rss = out.stdout.split()
    return {"read_s": round(float(seconds), 2), "read_peak_rss_mb": int(rss) // 2**20}


def measure_sandbox(path: Path, work: Path) -> dict:
    from gan.convert import sandbox

    caps, scratch = sandbox.Caps(), work / "scratch"
    scratch.mkdir()
    request = {
        "source": str(path),
        "out": str(scratch / "out"),
        "name": "bench",
        "label": "bench",
        "license": "",
        "memory_bytes": caps.memory_bytes,
        "output_bytes": caps.output_bytes,
    }
    t0 = time.monotonic()
    sandbox._run_child(request, scratch, caps)
    t1 = time.monotonic()
    sandbox._check_output(scratch / "out", "bench", caps)
    t2 = time.monotonic()
    return {"sandbox_child_s": round(t1 - t0, 1), "sandbox_check_s": round(t2 - t1, 1)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--res", type=int, default=1024)
    p.add_argument("--channel-max", type=int, default=512, help="512: NVIDIA's FFHQ config")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    head = stamp(MEASURES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.pkl"
        write_snapshot(path, args.res, args.channel_max)
        result = {
            "res": args.res,
            "channel_max": args.channel_max,
            "pickle_mb": round(path.stat().st_size / 2**20, 1),
        }
        result |= measure_read(path) | measure_sandbox(path, Path(tmp))
    result |= {"machine": platform.processor() or platform.machine(), "python": sys.version[:6]}
    result |= head
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("%s", json.dumps(result))


if __name__ == "__main__":
    main()
