"""How the app is queued and launched: its public endpoints, security options, bounded queue
and SIGTERM handling (`app.py` assembles the page and calls these)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator

import gradio as gr

from core import sessions
from ui.common import CSS
from ui.i18n import build_i18n
from ui.mcp_files import accept_file_lists
from ui.services import Services

log = logging.getLogger("gan_studio")

MAX_UPLOAD = "60mb"
API_ENDPOINTS = (  # the README's API section
    "generate",
    "faces_zip",
    "interpolate",
    "interpolate_video",
    "style_mix",
    "style_mix_video",
    "compare_models",
    "stylize",
    "finetune",
    "edit",
    "edit_video",
    "project",
    "morph",
    "judge",
    "lab_train",
    "lab_compare",
    "lab_highres",
    "library_list",
    "library_add",
    "library_files",
    "library_rename",
    "library_delete",
)
# The endpoints that are MCP tools (README: MCP): what an anonymous visitor of a public Space
# may run in one call. The others stay in the API, but are no tools: a fine-tune or a GAN lab
# run trains for minutes in the one training lane (and a visitor's fine-tune is capped),
# a projection holds the visitor's heavy slot, and `faces_zip` is Generate's faces again.
MCP_TOOLS = ("generate", "interpolate", "style_mix", "stylize", "edit", "judge")
SHUTDOWN_GRACE_S = 60.0  # how long a SIGTERM waits for fine-tunes to save


def hide_unnamed_endpoints(demo: gr.Blocks) -> None:
    """Only the endpoints that the README's API section lists are public; any other event
    (such as the one Gradio makes for a component whose value is a function) is private.
    A new public endpoint goes into API_ENDPOINTS and the README together."""
    for fn in demo.fns.values():
        if fn.api_visibility != "private" and fn.api_name not in API_ENDPOINTS:
            log.info("making the unlisted endpoint %s private", fn.api_name)
            fn.api_visibility = "private"


def limit_mcp_tools(demo: gr.Blocks) -> list[str]:
    """Keep only the `MCP_TOOLS` endpoints as tools of Gradio's MCP server; the names of the
    tools left. Gradio 6.31 makes every public endpoint a tool and has no per-event switch
    (`api_visibility="undocumented"` would also take the endpoint out of the API docs), so its
    tool table is trimmed: the tool list, the schema and tool calls all read that table."""
    server = getattr(demo, "mcp_server_obj", None)
    if server is None:
        return []
    tools = server.tool_to_endpoint  # {tool name: "/api_name"}; the name has the Space prefix
    for name, endpoint in list(tools.items()):
        if endpoint.strip("/") not in MCP_TOOLS:
            del tools[name]
    accept_file_lists(server)  # Judge's list of images (ui/mcp_files.py)
    log.info("MCP tools: %s", ", ".join(tools))
    return list(tools)


def server_lifespan(demo: gr.Blocks):
    """A server lifespan that runs before the server takes its first request (Gradio makes its
    MCP server while `launch` builds the app, just before this runs): it trims the MCP tools
    and bounds the per-session state (`core.sessions`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        limit_mcp_tools(demo)
        guard = getattr(demo, "gan_studio_guard", None)
        if guard is not None:
            sessions.install(app, demo, guard.quotas.max_sessions, guard.quotas.session_ttl_s)
        yield

    return lifespan


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
        "mcp_server": True,  # MCP_TOOLS for LLM clients (README: MCP)
    }
    app_kwargs: dict = {}
    if demo is not None:  # only MCP_TOOLS are tools; bounded session state
        app_kwargs["lifespan"] = server_lifespan(demo)
    guard = getattr(demo, "gan_studio_guard", None)
    if guard is not None:  # the visitor cookie, the file-payload guard and the admission gate
        app_kwargs["middleware"] = guard.middleware(demo)
    if app_kwargs:
        options["app_kwargs"] = app_kwargs
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
