"""GAN Studio: generate, interpolate, mix, edit, project, judge, stylise, fine-tune and learn.

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
from core.runs import freeze_startup_heap, trim_memory_forever  # noqa: E402
from ui.common import guarding  # noqa: E402
from ui.header import build_header, hub_status  # noqa: E402
from ui.i18n import language_selector  # noqa: E402
from ui.launch import (  # noqa: E402
    API_ENDPOINTS,
    MAX_UPLOAD,
    hide_unnamed_endpoints,
    launch_options,
    queue_options,
    share_asked,
    stop_runs_and_exit,
)
from ui.links import Permalinks  # noqa: E402
from ui.services import Services, build_services  # noqa: E402
from ui.tabs import build_tabs  # noqa: E402

log = logging.getLogger("gan_studio")

__all__ = ["API_ENDPOINTS", "MAX_UPLOAD", "build_demo", "hub_status", "launch_options", "main"]


def build_demo(services: Services | None = None) -> gr.Blocks:
    """The whole app on `services` (made here when not given)."""
    s = services or build_services()
    release = s.release_memory
    ttl = int(s.guard.quotas.upload_ttl_s)  # uploads and outputs live this long
    cache = (min(300, ttl), ttl)
    blocks = gr.Blocks(title="GAN Studio", delete_cache=cache, analytics_enabled=False)
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
    # Everything loaded so far lives for good: out of the garbage collector's sight.
    log.info("froze %d start-up objects", freeze_startup_heap())
    demo.launch(
        server_name=server_name,
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        **launch_options(demo),
    )


if __name__ == "__main__":
    main()
