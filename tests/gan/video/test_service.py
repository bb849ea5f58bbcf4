"""The video service on a tiny random StyleGAN2: caps checked before any frame, Stop keeps the
frames made so far in a whole MP4, and the walk's latents come back with the video."""

import imageio_ffmpeg
import pytest
import torch

from core.errors import UserInputError
from core.quotas import Quotas
from gan.generate.faces import SG2Settings
from gan.generate.service import FaceStudio
from gan.video.encode import VideoSettings
from gan.video.service import PREVIEW_EVERY, VideoMaker
from tests.gan.sg2_models import tiny_generator


@pytest.fixture
def maker(tmp_path):
    return VideoMaker(FaceStudio(torch.device("cpu"), tmp_path / "out"))


def test_the_caps_refuse_a_video_before_rendering(maker, tmp_path):
    G = tiny_generator(resolution=16)
    small = Quotas(max_video_pixels=2 * 16 * 16 - 1)  # one pixel short of two tiles
    events = maker.looping_video(G, [1, 2, 3, 4], VideoSettings(rows=1, columns=2), None, small)
    with pytest.raises(UserInputError, match="pixels"):
        next(events)
    few = Quotas(max_total_frames=10)
    with pytest.raises(UserInputError, match="frames"):
        next(maker.looping_video(G, [1, 2], VideoSettings(frames_per_transition=6), None, few))
    assert not (tmp_path / "out").exists()  # nothing rendered, no folder made


def test_stop_keeps_a_whole_video_of_the_frames_so_far(maker):
    G = tiny_generator(resolution=16)
    settings = VideoSettings(frames_per_transition=40)
    events = maker.looping_video(G, [1, 2], settings, session="me")
    first = next(events)
    assert not first.done and first.step == PREVIEW_EVERY and first.preview.shape == (16, 16, 3)
    maker.stop("me")
    last = list(events)[-1]
    assert last.done and last.stopped and last.output.frames == PREVIEW_EVERY  # of 80
    reader = imageio_ffmpeg.read_frames(str(last.output.path))
    next(reader)
    assert sum(1 for _ in reader) == last.output.frames
    assert [p.name for p in last.output.path.parent.iterdir()] == ["video.mp4"]


def test_the_walk_comes_back_and_passes_the_keyframes(maker):
    G = tiny_generator(resolution=16)
    *_, done = maker.looping_video(G, [5, 6, 7], VideoSettings(frames_per_transition=2))
    walk = done.output.walk
    keys = maker.studio.keyframe_ws(G, [5, 6, 7], SG2Settings())[0]
    assert done.output.frames == 6 and done.output.size == (16, 16)
    torch.testing.assert_close(walk[[0, 2, 4]].float(), keys)
