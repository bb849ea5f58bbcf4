"""`python -m gan.convert SOURCE --name NAME [--license TEXT] [--push OWNER/REPO]`."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_RE = re.compile(rf"^{_PART}/{_PART}$")

log = logging.getLogger("gan.convert")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m gan.convert",
        description="Convert an NVIDIA StyleGAN2/StyleGAN3 network pickle (.pkl) or a rosinality "
        "checkpoint (.pt) to a safetensors model folder, read without running code from it.",
    )
    p.add_argument("source", help="a local file, or a Hub file owner/repo@revision:path")
    p.add_argument("--name", required=True, help="model folder name under the checkpoints folder")
    p.add_argument("--license", default="", help="the source's licence, for the model card")
    p.add_argument("--push", metavar="OWNER/REPO", help="also upload the folder to this Hub repo")
    p.add_argument(
        "--public", action="store_true", help="create the --push repo public (default: private)"
    )
    p.add_argument("--checkpoints", type=Path, help="checkpoints folder (default: the app's)")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> Path:
    """Convert in the sandbox (`gan.convert.sandbox`), write `checkpoints/NAME/`, push when
    asked; returns the folder."""
    from gan.convert import _compat
    from gan.convert.sandbox import convert_sandboxed
    from gan.convert.source import fetch_source
    from gan.convert.writer import push_folder

    name = _compat.validate_name(args.name)
    if args.push and (not _REPO_RE.fullmatch(args.push) or ".." in args.push):
        raise _compat.UserInputError(f"--push wants a Hub repo id owner/name, not {args.push!r}")
    source = fetch_source(args.source)  # here: the download needs the network and the token
    root = args.checkpoints or _compat.checkpoints_dir()
    folder = convert_sandboxed(source.path, root / name, source.label, args.license)
    config = _compat.store.read_config(folder)
    log.info("wrote %s (%s px)", folder, config.get("img_resolution"))
    if args.push:
        sha = push_folder(folder, args.push, private=not args.public)
        log.info(
            "pushed to %s; point the app at GAN_STUDIO_HUB_MODELS=%s@%s", args.push, args.push, sha
        )
    return folder


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)  # before the torch imports, so --help is quick
    from gan.convert._compat import UserInputError

    try:
        run(args)
    except UserInputError as e:  # ConversionError included
        log.error("error: %s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
