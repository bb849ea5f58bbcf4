"""GAN Studio: generate, interpolate, stylise and fine-tune, in one Gradio app.

This file assembles the tabs (`ui/`), queues and launches; the services they call are made
once here, at start-up (`ui.services.build_services`). Run `python app.py` (see README.md).
"""

from __future__ import annotations

import os

from core.paths import data_dir, use_persistent_hf_home
from core.zerogpu import import_spaces_early

# Before anything imports torch (ZeroGPU patches it) or huggingface_hub (reads HF_HOME).
import_spaces_early()
use_persistent_hf_home(os.environ, data_dir())
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import logging  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402

import gradio as gr  # noqa: E402

from core import store  # noqa: E402
from core.runs import trim_memory_forever  # noqa: E402
from ui.common import CSS, guarding  # noqa: E402
from ui.header import build_header, hub_status  # noqa: E402
from ui.i18n import build_i18n, language_selector  # noqa: E402
from ui.links import Permalinks  # noqa: E402
from ui.services import Services, build_services  # noqa: E402
from ui.tabs import build_tabs  # noqa: E402

log = logging.getLogger("gan_studio")

MAX_UPLOAD = "60mb"
API_ENDPOINTS = (  # the README's API section
    "generate",
    "faces_zip",
    "interpolate",
    "style_mix",
    "stylize",
    "finetune",
    "edit",
    "project",
    "judge",
    "lab_train",
    "lab_compare",
)
SHUTDOWN_GRACE_S = 60.0  # how long a SIGTERM waits for fine-tunes to save
__all__ = ["build_demo", "hub_status", "launch_options", "main"]


def build_demo(services: Services | None = None) -> gr.Blocks:
    """The whole app on `services` (made here when not given)."""
    s = services or build_services()
    release = s.release_memory
    blocks = gr.Blocks(title="GAN Studio", delete_cache=(600, 3600), analytics_enabled=False)
    with guarding(s.guard), blocks as demo:
        header = build_header(s.studio, s.device.type.upper())
        language_selector(demo)
        links = Permalinks()
        tabs = build_tabs(header, s, release, links)
        header.wire_page_load(demo)
        links.wire(demo, tabs)
    hide_unnamed_endpoints(demo)
    demo.gan_studio_guard = s.guard  # launch_options(demo) adds its middleware
    return demo


def hide_unnamed_endpoints(demo: gr.Blocks) -> None:
    """Only the endpoints that the README's API section lists are public; any other event
    (such as the one Gradio makes for a component whose value is a function) is private.
    A new public endpoint goes into API_ENDPOINTS and the README together."""
    for fn in demo.fns.values():
        if fn.api_visibility != "private" and fn.api_name not in API_ENDPOINTS:
            log.info("making the unlisted endpoint %s private", fn.api_name)
            fn.api_visibility = "private"


def queue_options(demo: gr.Blocks) -> dict:
    """A bounded queue; the admission middleware answers a clear message at its size."""
    guard = getattr(demo, "gan_studio_guard", None)
    size = guard.quotas.queue_size if guard is not None else 64
    return {"default_concurrency_limit": 4, "max_size": size + 8}


def launch_options(demo: gr.Blocks | None = None) -> dict:
    """Security settings of every launch (`main` and the tests' app): an upload size limit, no
    public share link unless `GRADIO_SHARE=1` asks for one, no extra folders served (Gradio
    serves only its own upload/cache folder), no run history (it would keep inputs such as a
    pasted Hub token, and can write to a Hub bucket), and errors shown as messages."""
    options = {
        "max_file_size": MAX_UPLOAD,
        "share": share_asked(),
        "show_error": True,
        "allowed_paths": [],
        "run_history": False,
        "css": CSS,  # not security: crisp native-resolution faces (ui.common.PIXELATED)
        "i18n": build_i18n(),  # the page in six languages (ui/locales/)
        "mcp_server": True,  # the API's documented tools for LLM clients (README: MCP)
    }
    guard = getattr(demo, "gan_studio_guard", None)
    if guard is not None:  # the visitor cookie, the file-payload guard and queue admission
        options["app_kwargs"] = {"middleware": guard.middleware(demo)}
    return options


def share_asked() -> bool:
    return os.environ.get("GRADIO_SHARE", "").strip().lower() in {"1", "true", "yes"}


def stop_runs_and_exit(services: Services, signum: int) -> None:
    """SIGTERM (a container or Space shutting down): stop every run, give fine-tunes time to
    save what they learned (saves are atomic and fsynced), then exit at once, as SIGTERM's
    default action would: a graceful interpreter shutdown could wait on a request stuck on an
    unreachable network."""
    log.warning("signal %d: stopping %d run(s) before exiting", signum, services.stop_all())
    if not services.tuner.runs.wait_idle(SHUTDOWN_GRACE_S):
        log.error("a fine-tune did not finish saving within %.0f s", SHUTDOWN_GRACE_S)
    logging.shutdown()
    os._exit(128 + signum)


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Probe the Hub in the background so an unreachable Hub never delays start-up.
    threading.Thread(target=store.hub_reachable, daemon=True).start()
    threading.Thread(target=trim_memory_forever, daemon=True).start()
    server_name = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    services = build_services(server_name=server_name, share=share_asked())
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop_runs_and_exit(services, signum))
    demo = build_demo(services)
    demo.queue(**queue_options(demo))
    demo.launch(
        server_name=server_name,
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        **launch_options(demo),
    )


if __name__ == "__main__":
    main()
