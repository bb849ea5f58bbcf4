"""The video settings are validated once; the encoder writes what it was given."""

import imageio_ffmpeg
import numpy as np
import pytest

from core.errors import UserInputError
from core.quotas import Quotas
from gan.video.encode import VideoSettings, write_mp4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fps": 0},
        {"fps": 61},
        {"crf": 52},
        {"crf": -1},
        {"bitrate_kbps": 10},
        {"rows": 0},
        {"columns": 9},
        {"frames_per_transition": 0},
        {"seconds_per_transition": -1},
    ],
)
def test_settings_refuse_values_out_of_range(kwargs):
    with pytest.raises(UserInputError, match="must be between"):
        VideoSettings(**kwargs)


def test_settings_length_and_quality():
    assert VideoSettings(fps=30, seconds_per_transition=2).transition_frames == 60
    assert VideoSettings(frames_per_transition=7).transition_frames == 7
    assert VideoSettings(crf=23).output_params() == ["-crf", "23"]
    assert VideoSettings(bitrate_kbps=800).output_params() == ["-b:v", "800k"]
    assert VideoSettings(rows=2, columns=3).tiles == 6


def test_caps_follow_the_quotas():
    visitors = Quotas()
    with pytest.raises(UserInputError, match="frames"):
        VideoSettings().check_caps(visitors.max_total_frames + 1, 64 * 64, visitors)
    with pytest.raises(UserInputError, match="pixels"):
        VideoSettings().check_caps(10, visitors.max_video_pixels + 1, visitors)
    VideoSettings().check_caps(10, visitors.max_video_pixels + 1, Quotas.for_owner())


def test_write_mp4_frames_and_size(tmp_path):
    frames = [np.full((32, 48, 3), 20 * i, np.uint8) for i in range(5)]
    path = write_mp4(frames, tmp_path / "v.mp4", VideoSettings(fps=10, crf=30))
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    assert meta["size"] == (48, 32) and meta["fps"] == 10
    assert sum(1 for _ in reader) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no partial file left
