"""The style-transfer service the UI calls: owns the device, the loss networks and the runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from PIL import Image

from core.events import Progress
from core.images import CONTENT_IMAGE, load_rgb, style_image
from core.runs import RunRegistry
from style.networks import VGG19, LossNetworks
from style.settings import StyleSettings, max_size
from style.transfer import stylize

ImageInput = str | Path | Image.Image


class Stylist:
    """Gatys style transfer on one device; one run per session key at a time can be stopped."""

    def __init__(
        self,
        device: torch.device | str,
        networks: LossNetworks | None = None,
        pause: Callable[[], None] | None = None,
    ) -> None:
        """`pause()` runs before every iteration (the app's priority gate)."""
        self.device = torch.device(device)
        self.pause = pause
        self.networks = networks or LossNetworks(self.device)
        self.runs = RunRegistry()

    @property
    def max_size(self) -> int:
        """Largest output side (px) on this device."""
        return max_size(self.device)

    def expected_label(self, prefer: str = VGG19) -> str:
        """The loss network a run would use now (no loading)."""
        return self.networks.expected_label(prefer)

    def stylize(
        self,
        content: ImageInput | None,
        styles: Sequence[ImageInput | None],
        settings: StyleSettings,
        network: str = VGG19,
        session: str = "api",
    ) -> Iterator[Progress]:
        """Repaint `content` in the style of `styles` (blended by `settings.style_blend`);
        `stop(session)` ends the run early with the current image."""
        content_img = load_rgb(content, what=CONTENT_IMAGE)
        style_imgs = [load_rgb(p, what=style_image(i + 1)) for i, p in enumerate(styles)]
        with self.runs.running(session) as stop:
            yield from stylize(
                content_img,
                style_imgs,
                settings,
                lambda: self.networks.load(network),
                self.device,
                stop.is_set,
                self.pause,
            )

    def stop(self, session: str) -> bool:
        """Ask the run of `session` to stop; False when it has none."""
        return self.runs.stop(session)
