"""GAN Studio: generate, interpolate, stylise and fine-tune, in one Gradio app.

This file assembles the tabs (`ui/`), queues and launches; the services they call are made
once here, at start-up (`ui.services.build_services`). Run `python app.py` (see README.md).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import gradio as gr

from core import store
from core.runs import trim_memory_forever
from gan.lab.service import Lab
from ui.finetune import build_finetune_tab
from ui.generate import build_generate_tab
from ui.header import build_header, hub_status
from ui.i18n import build_i18n, language_selector, t
from ui.interpolate import build_interpolate_tab
from ui.lab import build_lab_tab
from ui.links import Permalinks
from ui.services import Services, build_services
from ui.style import build_style_tab

log = logging.getLogger("gan_studio")

MAX_UPLOAD = "60mb"
SHUTDOWN_GRACE_S = 60.0  # how long a SIGTERM waits for fine-tunes to save
__all__ = ["build_demo", "hub_status", "launch_options", "main"]


def build_demo(services: Services | None = None) -> gr.Blocks:
    """The whole app on `services` (made here when not given)."""
    s = services or build_services()
    release = s.release_memory
    with gr.Blocks(title="GAN Studio", delete_cache=(3600, 3600)) as demo:
        header = build_header(s.studio, s.device.type.upper())
        language_selector(demo)
        links = Permalinks()
        with gr.Tabs() as tabs:
            with gr.Tab(t("tab.generate"), id="generate"):
                build_generate_tab(header.model, s.studio, release, links)
            with gr.Tab(t("tab.interpolate"), id="interpolate"):
                build_interpolate_tab(header.model, s.studio, release, links)
            with gr.Tab(t("tab.style"), id="style"):
                build_style_tab(s.stylist, release, links)
            with gr.Tab(t("tab.finetune"), id="finetune"):
                build_finetune_tab(header.model, s.tuner, release, header.choices.update)
            with gr.Tab(t("tab.lab"), id="lab"):
                build_lab_tab(s.lab or Lab(s.device), links)
        header.wire_page_load(demo)
        links.wire(demo, tabs)
    return demo


def launch_options() -> dict:
    """Security settings of every launch (`main` and the tests' app): an upload size limit, no
    public share link unless `GRADIO_SHARE=1` asks for one, no extra folders served (Gradio
    serves only its own upload/cache folder), no run history (it would keep inputs such as a
    pasted Hub token, and can write to a Hub bucket), and errors shown as messages."""
    share = os.environ.get("GRADIO_SHARE", "").strip().lower() in {"1", "true", "yes"}
    return {
        "max_file_size": MAX_UPLOAD,
        "share": share,
        "show_error": True,
        "allowed_paths": [],
        "run_history": False,
        "i18n": build_i18n(),  # the page in six languages (ui/locales/)
        "mcp_server": True,  # the API's documented tools for LLM clients (README: MCP)
    }


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
    services = build_services()
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop_runs_and_exit(services, signum))
    demo = build_demo(services)
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        **launch_options(),
    )


if __name__ == "__main__":
    main()
