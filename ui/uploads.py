"""Image inputs that hand their handler the uploaded file, undecoded.

Gradio 6.31's `gr.Image` decodes an upload in its own pre-processing, before the event's
handler (and so before `ui.policy.checked` reads the pixel budget from the headers), whenever
its `image_mode` differs from the file's: with the default `image_mode="RGB"`, a 77 KB
8900x8900 greyscale PNG is decoded, converted and re-encoded (seconds, hundreds of MB) before
any check. `uploaded_image` makes a `gr.Image` with `type="filepath"` and no mode conversion,
so Gradio only opens the file's header; the handler gets the path, the policy checks its
pixels from the header, and the app's own loader (`core.images.load_rgb`: 16-bit to 8 first,
then the EXIF turn) decodes it. A base64 `data:` payload, which Gradio would decode whole, is
refused. Whatever else Gradio's pre-processing fails on (a text file named `.png`, a
truncated header) becomes one plain message that names the visitor's file, never Gradio's
"Could not preprocess ..." with the server's paths in it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from core.errors import Phrase
from ui.common import RefusedUpload

log = logging.getLogger(__name__)


def uploaded_image(**kwargs: Any) -> gr.Image:
    """`gr.Image(type="filepath", image_mode=None, **kwargs)` whose pre-processing refuses
    base64 payloads. (An instance, not a subclass: Gradio writes a `.pyi` file beside the
    module of every component class, which a read-only Space would refuse.)"""
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    image.preprocess = _refusing_base64(image.preprocess)  # type: ignore[method-assign]
    return image


def _refusing_base64(preprocess: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(preprocess)
    def checked(payload: Any) -> Any:
        """The uploaded file's path (Gradio reads its header only); a `data:` URL is refused."""
        url = getattr(payload, "url", None)
        if isinstance(url, str) and url.strip().lower().startswith("data:"):
            return RefusedUpload(BASE64_REFUSED)
        try:
            return preprocess(payload)
        except gr.Error:
            raise
        except Exception as e:  # Gradio's own message would show the server's paths
            log.info("unreadable image upload: %s", type(e).__name__)
            return RefusedUpload(unreadable(payload))

    return checked


BASE64_REFUSED = Phrase(
    "upload the image as a file (base64 data is not accepted here)", "msg.error.base64"
)


def unreadable(payload: Any) -> Phrase:
    """The message for an upload that is no readable image, naming the visitor's own file
    name (never a server path); the handler's `friendly` raises it in the page's language."""
    name = Path(str(getattr(payload, "orig_name", None) or "")).name
    if not name:
        return Phrase(
            "The file is not an image that can be read (try a PNG, JPEG or WebP file)",
            "msg.error.unreadable_file",
        )
    return Phrase(
        "{name} is not an image that can be read (try a PNG, JPEG or WebP file)",
        "msg.error.unreadable_image",
        name=name,
    )
