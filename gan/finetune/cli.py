"""Headless fine-tuning: `python -m gan.finetune --data DIR --name NAME [...]`.

Runs the same loop as the Fine-tune tab (`gan.finetune.loop.run_finetune`), for a DCGAN or a
StyleGAN2 `--model` (the trainer follows its config.json; the StyleGAN2-only flags such as
`--augment ada|diffaugment|none`, `--r1-gamma`, `--ada-target` are ignored for DCGAN).
On several GPUs:

    torchrun --nproc_per_node=4 -m gan.finetune --data DIR --name NAME --steps 5000

(DistributedDataParallel: NCCL on CUDA, gloo on the CPU; `--batch-size` is per process.)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import NoReturn

import torch
import torch.distributed as dist

from core import store
from core.device import resolve_device
from core.efficientnet import load_efficientnet_lite0
from core.errors import UserInputError
from core.events import Progress
from gan import DEFAULT_MODEL, loading
from gan.finetune import data
from gan.finetune.config import MODEL_DEFAULTS, FinetuneConfig, FinetuneJob
from gan.finetune.loop import run_finetune
from gan.finetune.service import model_defaults, settings
from gan.finetune.trainer import world

log = logging.getLogger("gan.finetune")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = FinetuneConfig()
    p = argparse.ArgumentParser(prog="python -m gan.finetune", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, nargs="+", help="image folder(s), files or .zip")
    p.add_argument("--name", required=True, help="output model name (checkpoints/<name>/)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="base model (local or owner/repo@rev)")
    p.add_argument("--resume", action="store_true", help="continue checkpoints/<name>/")
    p.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: auto)")
    p.add_argument("--no-kid", action="store_true", help="skip KID before and after")
    p.add_argument("--summary", type=Path, help="write a JSON summary of the run here")
    for f in fields(FinetuneConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        # Unset flags keep the architecture's default (StyleGAN2: per resolution, see main).
        if isinstance(default, bool):
            p.add_argument(flag, type=_bool, default=argparse.SUPPRESS, metavar="{true,false}")
        else:
            kind = float if isinstance(default, float) else type(default)
            shown = "the model's (device, resolution)" if f.name in MODEL_DEFAULTS else default
            p.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=f"default {shown}")
    return p.parse_args(argv)


def config_for(args: argparse.Namespace, base: str, device: torch.device) -> FinetuneConfig:
    """The tab's defaults for `base` on `device` (a StyleGAN2 base: those of its resolution),
    then the flags."""
    given = {f.name: getattr(args, f.name) for f in fields(FinetuneConfig) if hasattr(args, f.name)}
    return settings(model_defaults(base, device), given)


def _bool(text: str) -> bool:
    if text.lower() in {"1", "true", "yes", "on"}:
        return True
    if text.lower() in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def init_distributed(preference: str | None) -> torch.device:
    """Join the torchrun process group when launched by torchrun; pick this process's device."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return resolve_device(preference)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() and (preference or "cuda").startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    device = resolve_device(f"cuda:{local_rank}" if use_cuda else "cpu")
    log.info("rank %d of %d on %s", dist.get_rank(), dist.get_world_size(), device)
    return device


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args = parse_args(argv)
    device = init_distributed(args.device)
    rank, _ = world()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, or a container shutting down:
        signal.signal(signum, lambda *_: stop.set())  # stop cleanly and save
    try:
        base = args.model
        if args.resume:
            base = store.read_config(store.resolve(args.name)).get("base_model", base)
        config = config_for(args, args.name if args.resume else base, device)
        image_size = loading.image_size(args.name if args.resume else base)
        dataset = data.prepare(args.data, image_size, crops=config.crops_per_image)
        if warning := dataset.warning():
            log.warning("%s", warning)
        config.checked(len(dataset))  # bad hyper-parameters fail before any model loads
        job = FinetuneJob(dataset.images, args.name, base, config, args.resume, dataset.skipped)
        net = None if args.no_kid or rank != 0 else load_efficientnet_lite0(device)
        summary = _consume(run_finetune(job, device, stop, feature_net=net))
        if dist.is_initialized():
            dist.barrier()  # every rank is done with the group before any rank tears it down
    except UserInputError as e:
        log.error("%s", e)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if rank == 0 and args.summary:
        args.summary.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def exit_process(code: int) -> NoReturn:
    """Exit with `code`; a torchrun worker skips the interpreter's teardown.

    Once the process group is destroyed and everything is saved, gloo's C++ objects can
    still abort the process at exit, rarely ("terminate called without an active
    exception": once in CI, never in 150 runs here), and torchrun then reports a finished
    run as failed. Logs and streams are flushed first; checkpoints are already on disk.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _consume(events: Iterator[Progress]) -> dict:
    """Log the run's events; return a summary of the last one."""
    summary: dict = {}
    for event in events:
        if event.message and not event.done:
            log.info("%s", event.message)
        if event.losses:
            log.info(
                "step %d/%d  loss_d %.3f%s  loss_g %.3f  %.0f img/s",
                event.step,
                event.total,
                event.losses["loss_d"],
                " (D step skipped)" if event.metrics.get("d_skipped") else "",
                event.losses["loss_g"],
                event.metrics["images_per_s"],
            )
        elif "kid_before" in event.metrics and not event.done:
            log.info("KID before: %s", event.metrics["kid_before"])
        if event.done:
            kid = _kid(event)
            summary = {
                "checkpoint": str(event.output),
                "steps": event.step,
                "ended": event.message,
                "kid": kid,
            }
            log.info("saved %s; KID %s", event.output, kid)
    return summary


def _kid(event: Progress) -> dict[str, float | None]:
    """{"before": ..., "after": ...} from an event's `kid_*` metrics."""
    return {k[4:]: v for k, v in event.metrics.items() if k.startswith("kid_")}
