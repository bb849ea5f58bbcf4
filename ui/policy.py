"""The server-side checks of each event, by handler name, under the app's `SpaceGuard`.

`ui.common.friendly` calls `checked(...)` around every handler with who is asking. For every
caller: files given to a file parameter must be regular files inside Gradio's upload folder
(`core.safe_files.upload_path`: no directory, no URL, nothing outside), and images must fit
the decoded-pixels budget from their headers. For visitors also:

- heavy jobs (style, fine-tune, projection, upload previews, GAN lab runs and comparisons)
  hold the visitor's one heavy slot (`JobGate.heavy`) and run under a wall-time `Deadline`
  counted over all their steps, data preparation included;
- a fine-tune's output goes to the visitor's namespace, under the count/MB/step quotas, after
  eviction; the models a job uses are leased so nothing evicts them meanwhile;
- a push needs a signed-in visitor and uses their OAuth token, to a repo under their name;
- interpolations are capped in total frames.

The owner at the keyboard (no visitors) keeps today's behaviour: the checks on files only.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import UserInputError
from core.identity import Identity
from core.paths import OUTPUT_ROOT_NAME
from core.quotas import Deadline
from core.safe_files import check_pixels, upload_path

# Parameters that carry uploaded files, and which of them are images (zips included).
FILE_PARAMS = {"images", "content", "style", "extra_styles", "latent_file", "image", "target"}
FILE_PARAMS |= {"photo", "uploads", "latent_files"}  # ui.project, ui.lab, My latents
IMAGE_PARAMS = FILE_PARAMS - {"latent_file", "latent_files"}
# Handlers that are heavy jobs, and what they are called in messages.
HEAVY = {
    "stylize": "style",
    "finetune": "fine-tune",
    "preview_upload": "upload preview",
    "project": "projection",
    "train": "GAN lab run",  # ui.lab
    "compare": "GAN lab comparison",
}
# Heavy jobs under the wall-time cap, checked between their steps and passed to their data
# preparation (`ui.common.current_deadline`); fine-tunes stop themselves at their (capped)
# max_seconds, preparation and KID included (gan.finetune.service).
DEADLINED = {"stylize", "project", "preview_upload", "train", "compare"}
# Light jobs that decode uploads, with their own (smaller) pixel budget: the Judge needs its
# images at D's resolution only.
PIXEL_BUDGETS = {"judge_images": "judge_max_pixels"}


def store_scope(guard: Any, who: Identity):
    """The model-store scope of a visitor (own namespace, bounded Hub), none for the owner."""
    from core import store  # lazy: core.store imports torch; this runs only in handlers

    if guard is None or who.is_owner:
        return contextlib.nullcontext()
    hub = guard.hub
    scope = store.Scope(
        own=guard.models.root / who.owner_id,
        fetch_hub=lambda ref, files: hub.fetch(ref.repo_id, ref.revision, files),
        hub_token=lambda ref: hub.token_for(ref.repo_id, ref.revision),
    )
    return store.scoped(scope)


def _files(values: dict[str, Any]) -> list[Path]:
    """Replace every uploaded file by its checked path; the image files among them."""
    images: list[Path] = []
    for name in FILE_PARAMS & values.keys():
        value = values[name]
        if value is None or value == [] or value == "":
            continue
        if isinstance(value, list | tuple):
            paths = [upload_path(v) for v in value]
            values[name] = [str(p) for p in paths]
        else:
            paths = [upload_path(value)]
            values[name] = str(paths[0])
        if name in IMAGE_PARAMS:
            images += paths
    return images


@contextmanager
def checked(
    handler: str, guard: Any, who: Identity, names: list[str], args: tuple, kwargs: dict
) -> Iterator[tuple[tuple, dict, Deadline | None]]:
    """The handler's arguments after its checks, inside the slots and leases it holds."""
    if guard is None:  # a tab built without the app (its tests): no checks, as before
        yield args, kwargs, None
        return
    values = {**dict(zip(names, args, strict=False)), **kwargs}
    images = _files(values)
    quotas = guard.quotas
    if images:
        budget = quotas.max_decoded_pixels_per_upload
        if handler in PIXEL_BUDGETS:
            budget = min(budget, getattr(quotas, PIXEL_BUDGETS[handler]))
        check_pixels(images, budget)
    with contextlib.ExitStack() as stack:
        deadline = None
        if not who.is_owner:
            deadline = _visitor_checks(handler, guard, who, values, stack)
        yield _split(names, args, values), kwargs_of(names, args, values), deadline


def _visitor_checks(
    handler: str, guard: Any, who: Identity, values: dict, stack: contextlib.ExitStack
) -> Deadline | None:
    quotas = guard.quotas
    if handler in HEAVY:
        stack.enter_context(guard.gate.heavy(who.owner_id, HEAVY[handler]))
    if handler == "finetune":
        _finetune(guard, who, values, stack)
    elif handler == "push":
        _push(guard, who, values, stack)
    elif handler == "interpolate":
        _frames(guard, values)
    if isinstance(values.get("model"), str) and handler != "delete_model":
        _lease(guard, who, values["model"], stack)
    return Deadline(quotas.heavy_job_max_s) if handler in DEADLINED else None


def _lease(guard: Any, who: Identity, name: str, stack: contextlib.ExitStack) -> None:
    """Keep the visitor's own model from eviction while a job uses it."""
    if "/" not in name and name in guard.models.own(who.owner_id):
        stack.enter_context(guard.models.lease(who.owner_id, name))


def _finetune(guard: Any, who: Identity, values: dict, stack: contextlib.ExitStack) -> None:
    quotas = guard.quotas
    name = str(values.get("name") or "").strip()
    steps = int(values.get("steps") or 0)
    # One chunk of a visitor's run fits the heavy-job cap; the run saves when it is reached.
    max_seconds = min(float(values.get("max_seconds") or 1e9), quotas.heavy_job_max_s)
    quotas.check_finetune(who.is_anonymous, steps, max_seconds)
    values["max_seconds"] = max_seconds
    guard.models.evict()
    if values.get("resume"):
        if name not in guard.models.own(who.owner_id):
            raise UserInputError(f"nothing to resume: {name!r} is not a fine-tuned model of yours")
    else:
        guard.models.check_new(who, name)
    guard.models.check_size(who, _model_mb(guard, who, values.get("model")))
    stack.enter_context(guard.models.lease(who.owner_id, name))


def _model_mb(guard: Any, who: Identity, model: Any) -> float:
    """The size of the base model (a fine-tune writes about as much, twice with D)."""
    from core import store
    from core.owned_models import folder_mb

    if not isinstance(model, str) or not model:
        return 0.0
    with store_scope(guard, who):
        return 2 * folder_mb(store.resolve(model))


def _push(guard: Any, who: Identity, values: dict, stack: contextlib.ExitStack) -> None:
    """A visitor pushes with their own OAuth token, to their own namespace, their own model."""
    token = who.require_signed_in("push to the Hub")
    repo = str(values.get("repo_id") or "").strip()
    if repo.split("/", 1)[0] != who.username:
        raise UserInputError(f"push to a repo of your own: {who.username}/<name>")
    name = str(values.get("name") or "").strip()
    if name not in guard.models.own(who.owner_id):
        raise UserInputError(f"no model {name!r} of yours to push; fine-tune one first")
    values["token"] = token
    stack.enter_context(guard.models.lease(who.owner_id, name))


def _frames(guard: Any, values: dict) -> None:
    from gan import latents

    keyframes = len(latents.parse_seeds(str(values.get("seeds") or ""), max_count=16))
    segments = keyframes if values.get("loop") else max(keyframes - 1, 1)
    guard.quotas.check_frames(segments * int(values.get("frames") or 0))


def _split(names: list[str], args: tuple, values: dict) -> tuple:
    return tuple(values[n] for n in names[: len(args)])


def kwargs_of(names: list[str], args: tuple, values: dict) -> dict:
    return {k: v for k, v in values.items() if k not in names[: len(args)]}


# --- After the handler, and ZeroGPU ----------------------------------------------------------


def after(handler: str, guard: Any, who: Identity, result: Any) -> Any:
    """Checks on what a handler made for a visitor: an interpolation's GIF within the size
    quota; the request folders of its files are removed after `output_ttl_s` by the guard's
    one sweeper thread (Gradio serves them from where the studio wrote them, inside its own
    folder, and would otherwise keep them until its hourly clean-up)."""
    if guard is None or who.is_owner or handler not in ("generate", "interpolate"):
        return result
    folders = {Path(p).parent for p in _returned_files(result)}
    if handler == "interpolate":
        gif = Path(str(result[1]))
        if gif.is_file() and gif.stat().st_size > guard.quotas.max_gif_bytes:
            size = gif.stat().st_size
            _remove(folders)
            guard.quotas.check_gif_bytes(size)
    guard.sweeper.remove_later(folders, guard.quotas.output_ttl_s)
    return result


def _returned_files(result: Any) -> list[str]:
    """The app's own output files among a handler's outputs: files in a request folder of
    the studio's output root (`.../gan-studio/<random>/`), also inside lists and a
    gallery's (path, caption) pairs."""
    found: list[str] = []
    for value in result if isinstance(result, tuple | list) else [result]:
        if isinstance(value, tuple | list):
            found += _returned_files(value)
        elif isinstance(value, str) and _is_output(Path(value)):
            found.append(value)
    return found


def _is_output(path: Path) -> bool:
    return path.is_file() and path.resolve().parent.parent.name == OUTPUT_ROOT_NAME


def _remove(folders: set[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


GPU_SECONDS = {"generate": 30.0, "interpolate": 90.0, "style_mix": 30.0}
GPU_JOBS = {"stylize", "finetune", "project", "train", "compare"}  # up to their wall-time cap


def on_gpu(handler: str, fn: Any, guard: Any) -> Any:
    """`fn` under `spaces.GPU(duration=...)` on ZeroGPU (unchanged everywhere else), the
    duration estimated from the job's cap: a fine-tune's (capped) max_seconds, a heavy job's
    wall-time cap, a fixed estimate for the light ones."""
    from core.zerogpu import gpu

    if handler not in GPU_SECONDS and handler not in GPU_JOBS:
        return fn
    cap = guard.quotas.heavy_job_max_s if guard is not None else 3600.0

    def duration(*args: Any, **kwargs: Any) -> float:
        if handler in GPU_SECONDS:
            return GPU_SECONDS[handler]
        return min(float(kwargs.get("max_seconds") or cap), cap) + 20

    return gpu(duration)(fn)
