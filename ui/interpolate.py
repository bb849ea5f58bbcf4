"""The Interpolate tab: walks between keyframe seeds (lerp/slerp), as a strip, GIF and MP4."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from gan import DEFAULT_MODEL, latents
from gan.generate.service import FaceStudio
from ui.common import CHEAP_LANE, LARGE_RESULT, PIXELATED, downloads_box, friendly, inputs_for
from ui.components import StyleGAN2Controls, build_sg2_controls, sg2_settings
from ui.examples import lane_examples
from ui.i18n import howto, language_of, t, translate
from ui.links import Permalinks


class InterpolateHandlers:
    """The tab's events, each one call of `FaceStudio`."""

    def __init__(self, studio: FaceStudio) -> None:
        self.studio = studio

    def interpolate(
        self,
        seeds: str = "1, 2",
        frames: float = 16,
        mode: str = "slerp",
        model: str = DEFAULT_MODEL,
        loop: bool = False,
        truncation_psi: float = 1.0,
        fps: float = 12,
        space: str = "z",
        noise_mode: str = "const",
        truncation_cutoff: float = 0,
        class_idx: float = 0,
        translate_x: float = 0,
        translate_y: float = 0,
        rotate: float = 0,
        translate_x_end: float = 0,
        translate_y_end: float = 0,
        rotate_end: float = 0,
        request: gr.Request = None,
    ):
        """Frames between two or more keyframe seeds: a strip, a GIF and an MP4.

        Args:
            seeds: two or more keyframe seeds, e.g. "1, 2, 3", visited in order.
            frames: frames per segment between two keyframes, endpoints included (2-120).
            mode: "slerp" (along the sphere where random latents lie) or "lerp" (a straight line).
            model: a face model name from the app's model list (default: the bundled DCGAN).
            loop: whether the walk returns to the first seed.
            truncation_psi: ψ, 1 = the full variety; below 1 pulls faces towards the average face.
            fps: frames per second of the GIF and MP4.
            space: StyleGAN2 only: "z" (the `mode` path in Z, then mapped) or "w" (lerp in W).
            noise_mode: StyleGAN2 only: "const" (same seed, same pixels), "random" or "none".
            truncation_cutoff: StyleGAN2 only: truncate only the first N ws toward w_avg; 0 = all.
            class_idx: StyleGAN2 only: the class of a conditional model (0 otherwise).
            translate_x: StyleGAN3 only: the first frame's sideways shift (-1 to 1).
            translate_y: StyleGAN3 only: the first frame's vertical shift (-1 to 1).
            rotate: StyleGAN3 only: the first frame's turn in degrees.
            translate_x_end: StyleGAN3 only: the last frame's sideways shift; the camera moves
                in equal steps from the first frame's to the last frame's.
            translate_y_end: StyleGAN3 only: the last frame's vertical shift.
            rotate_end: StyleGAN3 only: the last frame's turn in degrees.

        Returns:
            the frames side by side as one strip image (PNG);
            the walk as an animated GIF;
            the walk as an MP4 video;
            the three files (strip, GIF, MP4) for download;
            a line of info (frames, path, keyframes, model).
        """
        camera, end = (
            (translate_x, translate_y, rotate),
            (translate_x_end, translate_y_end, rotate_end),
        )
        sg2 = sg2_settings(truncation_psi, noise_mode, truncation_cutoff, class_idx, camera, end)
        images, (strip, gif, mp4), keyframes, in_w = self.studio.interpolate_request(
            model, seeds, int(frames), mode, bool(loop), float(truncation_psi), fps, space, sg2
        )
        lang = language_of(request)
        path = translate("msg.interpolate.lerp_w", lang) if in_w else mode
        info = translate(
            "msg.interpolate.info",
            lang,
            frames=len(images),
            mode=path,
            keyframes=keyframes,
            model=model,
        )
        return str(strip), str(gif), str(mp4), [str(strip), str(gif), str(mp4)], info


def build_interpolate_tab(
    model: gr.Dropdown,
    studio: FaceStudio,
    release_memory: Callable[[], None] | None = None,
    links: Permalinks | None = None,
) -> None:
    """The Interpolate tab's components and events (API: `/interpolate`)."""
    handlers = InterpolateHandlers(studio)
    with gr.Row():
        with gr.Column(scale=1):
            components, sg2 = _controls(model)
            run = gr.Button(t("interpolate.run"), variant="primary")
        with gr.Column(scale=2):
            strip = gr.Image(label=t("interpolate.strip.label"), type="filepath", format="png")
            with gr.Row():
                gif = gr.Image(
                    label="GIF",
                    type="filepath",
                    format="gif",
                    height=320,
                    elem_classes=[PIXELATED, LARGE_RESULT],  # as large as the MP4 beside it
                )
                mp4 = gr.Video(label="MP4", format="mp4", autoplay=True, loop=True, height=320)
            info = gr.Markdown(label="info")
            files = downloads_box(t("common.downloads"))
    sg2.follow(model, studio)
    gr.on(
        [run.click, components["seeds"].submit],
        friendly(handlers.interpolate, release_memory),
        inputs_for(handlers.interpolate, components),
        [strip, gif, mp4, files, info],
        api_name="interpolate",
        **CHEAP_LANE,
    )
    _share(handlers, components, [strip, gif, mp4, files, info], release_memory, links)


def _controls(model: gr.Dropdown) -> tuple[dict, StyleGAN2Controls]:
    """The walk's settings, by the handler's parameter names, and the StyleGAN2 controls."""
    seeds = gr.Textbox(
        value="1, 2, 3",
        label=t("interpolate.seeds.label"),
        info=t("interpolate.seeds.info"),
    )
    frames = gr.Slider(2, latents.MAX_FRAMES, value=16, step=1, label=t("interpolate.frames.label"))
    mode = gr.Radio(["slerp", "lerp"], value="slerp", label=t("interpolate.mode.label"))
    loop = gr.Checkbox(value=False, label=t("interpolate.loop.label"))
    psi = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label=t("generate.psi.label"))
    fps = gr.Slider(1, 60, value=12, step=1, label=t("interpolate.fps.label"))
    sg2 = build_sg2_controls(camera=True, camera_end=True)
    with sg2.group:
        space = gr.Radio(
            ["z", "w"],
            value="z",
            label=t("interpolate.space.label"),
            info=t("interpolate.space.info"),
        )
    components = {"seeds": seeds, "frames": frames, "mode": mode, "model": model, "loop": loop}
    components |= {"truncation_psi": psi, "fps": fps, "space": space}
    return components | sg2.components(), sg2


def _share(handlers, components, outputs, release_memory, links: Permalinks | None) -> None:
    """Examples (cached on first use), the "How it works" panel and the permalink."""
    run = friendly(handlers.interpolate, release_memory)
    model = components["model"]

    def example(seeds: str, frames: int, mode: str):
        """On the default model, which the header then shows (the cache holds its frames)."""
        return (*run(seeds, frames, mode, model.value), model.value)

    lane_examples(
        [["1, 2", 16, "slerp"], ["7, 42, 2024", 12, "lerp"]],
        [components["seeds"], components["frames"], components["mode"]],
        [*outputs, model],
        example,
        ["1 → 2, 16 frames, slerp", "7 → 42 → 2024, 12 frames, lerp"],
        "interpolate-examples",
    )
    howto("interpolate")
    if links is not None:
        links.add("interpolate", components, run, outputs, concurrency_id="cheap")
