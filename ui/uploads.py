"""Image inputs that hand their handler the uploaded file, undecoded.

Gradio 6.31's `gr.Image` decodes an upload in its own pre-processing, before the event's
handler (and so before `ui.policy.checked` reads the pixel budget from the headers), whenever
its `image_mode` differs from the file's: with the default `image_mode="RGB"`, a 77 KB
8900x8900 greyscale PNG is decoded, converted and re-encoded (seconds, hundreds of MB) before
any check. `UploadedImage` is a `gr.Image` (the same on the page and in the API) with
`type="filepath"` and no mode conversion, so Gradio only opens the file's header; the handler
gets the path, the policy checks its pixels from the header, and the app's own loader
(`core.images.load_rgb`: 16-bit to 8 first, EXIF turn) decodes it. A payload given as a
base64 `data:` URL, which Gradio would decode whole, is refused.
"""

from __future__ import annotations

from typing import Any

import gradio as gr


class UploadedImage(gr.Image):
    """`gr.Image(type="filepath", image_mode=None)` that refuses base64 payloads."""

    is_template = True  # the page and the API see a plain "image" component

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs |= {"type": "filepath", "image_mode": None}
        super().__init__(*args, **kwargs)

    def preprocess(self, payload: Any) -> Any:
        """The uploaded file's path (Gradio reads its header only); a `data:` URL is refused."""
        url = getattr(payload, "url", None)
        if isinstance(url, str) and url.strip().lower().startswith("data:"):
            raise gr.Error("upload the image as a file (base64 data is not accepted here)")
        return super().preprocess(payload)
