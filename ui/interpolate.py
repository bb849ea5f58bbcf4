"""The Interpolate tab: walks between keyframes (seeds and latent files; lerp, slerp or cubic),
as a strip, GIF and MP4; and, in its Video accordion, looping cubic walks and grids of them as
NVIDIA's gen_video.py makes them."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from core.events import Progress
from gan import DEFAULT_MODEL, latents
from gan.generate.keyframes import parse_keyframes
from gan.generate.service import FaceStudio
from gan.library.service import LatentLibrary, Origin
from gan.video.encode import CRF_RANGE, MAX_GRID, VideoSettings
from gan.video.service import VideoMaker
from ui.common import (
    CHEAP_LANE,
    LARGE_RESULT,
    LATENT_FILES_HEIGHT,
    PIXELATED,
    current_caller,
    current_quotas,
    downloads_box,
    friendly,
    inputs_for,
    session_key,
    stoppable_video_job,
)
from ui.components import StyleGAN2Controls, build_sg2_controls, latent_picker, sg2_settings
from ui.examples import lane_examples
from ui.i18n import howto, language_of, t, translate
from ui.links import Permalinks


class InterpolateHandlers:
    """The tab's events, each one call of `FaceStudio`."""

    def __init__(
        self,
        studio: FaceStudio,
        video: VideoMaker | None = None,
        library: LatentLibrary | None = None,
    ) -> None:
        self.studio = studio
        self.video_maker = video or VideoMaker(studio)
        self.library = library

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
        latent_files: list[str] | None = None,
        request: gr.Request = None,
    ):
        """Frames between two or more keyframes (seeds, latent files or both): a strip, a GIF
        and an MP4.

        Args:
            seeds: two or more keyframe seeds, e.g. "1, 2, 3", visited in order; with latent
                files, `#1`, `#2`, ... name the files, e.g. "7, #1, 11, #2".
            frames: frames per segment between two keyframes, endpoints included (2-120).
            mode: "slerp" (along the sphere where random latents lie), "lerp" (a straight line)
                or "cubic" (a Catmull-Rom spline through the keyframes, smooth at each one).
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
            latent_files: latent files (.npy/.json; z, or w for a StyleGAN) as keyframes in
                order, used instead of the seeds when `seeds` names none of them as `#n`; a
                file holding N latents gives N keyframes. Any w keyframe makes the walk in W.

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
            model,
            seeds,
            int(frames),
            mode,
            bool(loop),
            float(truncation_psi),
            fps,
            space,
            sg2,
            latent_files,
            current_quotas().max_total_frames,
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

    def keep_frame(
        self,
        seeds: str = "1, 2",
        frames: float = 16,
        mode: str = "slerp",
        model: str = DEFAULT_MODEL,
        loop: bool = False,
        truncation_psi: float = 1.0,
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
        latent_files: list[str] | None = None,
        keep_frame: float = 1,
        request: gr.Request = None,
    ) -> str:
        """Page only: frame number `keep_frame` of the walk these settings make, kept in My
        latents as a walk point; a line saying so."""
        camera = (translate_x, translate_y, rotate)
        end = (translate_x_end, translate_y_end, rotate_end)
        sg2 = sg2_settings(truncation_psi, noise_mode, truncation_cutoff, class_idx, camera, end)
        latent, image = self.studio.walk_point_request(
            model,
            seeds,
            int(frames),
            int(keep_frame),
            mode,
            bool(loop),
            float(truncation_psi),
            space,
            sg2,
            latent_files,
            current_quotas().max_total_frames,
        )
        entry = self.library.add(current_caller().owner_id, model, latent, Origin("walk"), image)
        return translate("msg.library.saved", language_of(request), name=entry.name)

    def interpolate_video(
        self,
        seeds: str = "1-4",
        model: str = DEFAULT_MODEL,
        truncation_psi: float = 1.0,
        fps: float = 24,
        frames_per_transition: float = 24,
        crf: float = 18,
        rows: float = 1,
        columns: float = 1,
        noise_mode: str = "const",
        truncation_cutoff: float = 0,
        class_idx: float = 0,
        latent_files: list[str] | None = None,
        request: gr.Request = None,
    ):
        """A looping video as NVIDIA's gen_video.py makes it: a cubic (Catmull-Rom) walk through
        the keyframes that returns to the first, or a grid of rows x columns such walks.

        Args:
            seeds: keyframe seeds in order, e.g. "1-4"; a grid splits them into runs of equal
                length, one run per tile, row by row (2 x 2 with "1-8": two keyframes each).
            model: a face model name from the app's model list.
            truncation_psi: ψ, 1 = the full variety; below 1 pulls faces towards the average face.
            fps: frames per second (1-60).
            frames_per_transition: frames from one keyframe to the next (1-240).
            crf: H.264 quality, 0 (lossless) to 51 (worst); 18 looks lossless.
            rows: rows of the grid (1-8).
            columns: columns of the grid (1-8).
            noise_mode: StyleGAN only: "const", "random" or "none".
            truncation_cutoff: StyleGAN only: truncate only the first N ws; 0 = all.
            class_idx: StyleGAN only: the class of a conditional model (0 otherwise).
            latent_files: latent files as keyframes (as in /interpolate: instead of the seeds,
                or named in `seeds` as `#1`, `#2`, ...).

        Returns:
            the MP4;
            a line of info (frames, grid, length, model).
        """
        settings = VideoSettings(
            fps=float(fps),
            frames_per_transition=int(frames_per_transition),
            crf=int(crf),
            rows=int(rows),
            columns=int(columns),
        )
        sg2 = sg2_settings(truncation_psi, noise_mode, truncation_cutoff, class_idx)
        keys = parse_keyframes(seeds, latent_files, max_count=MAX_VIDEO_KEYFRAMES)
        lang = language_of(request)
        events = self.video_maker.looping_video(
            model, keys, settings, sg2, current_quotas(), session_key(request)
        )
        for event in events:
            yield _video_update(event, settings, model, lang)

    def stop(self, request: gr.Request = None) -> None:
        self.video_maker.stop(session_key(request))


MAX_VIDEO_KEYFRAMES = 64  # a grid's tiles' keyframes together (an 8 x 8 grid, one run each)


def _video_update(event: Progress, settings: VideoSettings, model: str, lang: str) -> tuple:
    """The page's (video, info) for one event of a video job."""
    if not event.done:
        line = translate("msg.video.rendering", lang, step=event.step, total=event.total)
        return gr.skip(), line
    video = event.output
    info = translate(
        "msg.video.info",
        lang,
        frames=video.frames,
        seconds=f"{video.frames / settings.fps:.1f}",
        width=video.size[0],
        height=video.size[1],
        model=model,
    )
    if event.stopped:
        info += " " + translate("msg.video.stopped", lang)
    return str(video.path), info


def build_interpolate_tab(
    model: gr.Dropdown,
    studio: FaceStudio,
    release_memory: Callable[[], None] | None = None,
    links: Permalinks | None = None,
    video: VideoMaker | None = None,
    library: LatentLibrary | None = None,
) -> None:
    """The Interpolate tab's components and events (API: `/interpolate`,
    `/interpolate_video`)."""
    handlers = InterpolateHandlers(studio, video, library)
    with gr.Row():
        with gr.Column(scale=1):
            components, sg2 = _controls(model, library)
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
            if library is not None:
                _keep_frame(handlers, components, info, release_memory)
    _video_section(handlers, components, release_memory)
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


def _keep_frame(handlers: InterpolateHandlers, components: dict, info, release_memory) -> None:
    """The "Keep this frame in My latents" row: a frame number and its button (page only)."""
    with gr.Row(equal_height=False):
        frame = gr.Number(
            value=1,
            minimum=1,
            precision=0,
            label=t("interpolate.keep.label"),
            scale=1,
            min_width=80,
        )
        keep = gr.Button(t("interpolate.keep.run"), size="md", scale=3, min_width=160)
    keep.click(
        friendly(handlers.keep_frame, release_memory),
        inputs_for(handlers.keep_frame, components | {"keep_frame": frame}),
        info,
        api_visibility="private",
        **CHEAP_LANE,
    )


def _video_section(handlers: InterpolateHandlers, components: dict, release_memory) -> None:
    """The Video accordion: a looping cubic walk or a grid of them, with its settings, sharing
    the keyframes, model and StyleGAN controls above (API: `/interpolate_video`)."""
    with gr.Accordion(t("interpolate.video.accordion"), open=False):
        gr.Markdown(t("interpolate.video.intro"))
        with gr.Row():
            with gr.Column(scale=1):
                fields = {
                    "frames_per_transition": gr.Slider(
                        1, 120, value=24, step=1, label=t("interpolate.video.transition.label")
                    ),
                    "crf": gr.Slider(
                        *CRF_RANGE,
                        value=18,
                        step=1,
                        label=t("interpolate.video.crf.label"),
                        info=t("interpolate.video.crf.info"),
                    ),
                }
                with gr.Row():
                    fields["rows"] = gr.Slider(
                        1, MAX_GRID, value=1, step=1, label=t("interpolate.video.rows.label")
                    )
                    fields["columns"] = gr.Slider(
                        1, MAX_GRID, value=1, step=1, label=t("interpolate.video.columns.label")
                    )
                with gr.Row():
                    run = gr.Button(t("interpolate.video.run"), variant="primary")
                    stop = gr.Button(t("common.stop"), variant="secondary")
            with gr.Column(scale=2):
                video = gr.Video(
                    label=t("interpolate.video.label"), autoplay=True, loop=True, height=360
                )
                info = gr.Markdown()
    inputs = inputs_for(handlers.interpolate_video, components | fields)
    fn, stop_fn = handlers.interpolate_video, handlers.stop
    stoppable_video_job(
        run, stop, fn, inputs, [video, info], "interpolate_video", stop_fn, release_memory
    )


def _controls(
    model: gr.Dropdown, library: LatentLibrary | None = None
) -> tuple[dict, StyleGAN2Controls]:
    """The walk's settings, by the handler's parameter names, and the StyleGAN2 controls."""
    seeds = gr.Textbox(
        value="1, 2, 3",
        label=t("interpolate.seeds.label"),
        info=t("interpolate.seeds.info"),
    )
    with gr.Accordion(t("library.accordion"), open=False):
        latent_files = gr.File(
            label=t("interpolate.latent_files.label"),
            file_count="multiple",
            file_types=[".npy", ".json"],
            height=LATENT_FILES_HEIGHT,
            render=False,
        )
        latent_picker(library, latent_files)
        latent_files.render()
    frames = gr.Slider(2, latents.MAX_FRAMES, value=16, step=1, label=t("interpolate.frames.label"))
    mode = gr.Radio(["slerp", "lerp", "cubic"], value="slerp", label=t("interpolate.mode.label"))
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
    components |= {"truncation_psi": psi, "fps": fps, "space": space, "latent_files": latent_files}
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
