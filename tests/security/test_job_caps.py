"""Every job has a cap (issue 19), on the app as on a Space (`tests.security.test_hostile_visitor`'s
`space`: a 2 s heavy-job cap, a 20 MP upload budget): GAN lab runs and comparisons stop at the
heavy-job cap, their uploads are budgeted, Judge's 16-bit giants and Gradio's image inputs are
refused from headers, before anything decodes them.
"""

from __future__ import annotations

import io
import zipfile

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from core.identity import OWNER
from core.quotas import Quotas
from tests.security.test_hostile_visitor import Visitor, inputs_of, space, upload  # noqa: F401


@pytest.fixture(scope="module")
def visitor(space):  # noqa: F811
    return Visitor(space[0])


def png(image: Image.Image) -> bytes:
    data = io.BytesIO()
    image.save(data, format="PNG")
    return data.getvalue()


@pytest.fixture(scope="module")
def grey_giant() -> bytes:
    """The red team's 77 KB 8900x8900 greyscale PNG (79 MP, over every budget)."""
    return png(Image.new("L", (8900, 8900)))


def call_by_name(visitor: Visitor, demo, name: str, values: dict) -> tuple[bool, object]:
    """Queue the event whose handler is `name` (private events too), its inputs' defaults
    with `values` by parameter name."""
    import inspect

    index, fn = next((i, f) for i, f in demo.fns.items() if f.name == name)
    names = [p for p in inspect.signature(fn.fn).parameters if not p.startswith("gs_")]
    names = [n for n in names if n not in ("request", "progress")]
    data = [c.value for c in fn.inputs]
    for key, value in values.items():
        data[names.index(key)] = value
    return _join(visitor, index, data)


def _join(visitor: Visitor, index: int, data: list) -> tuple[bool, object]:
    body = {"data": data, "fn_index": index, "session_hash": visitor.session}
    joined = visitor.http.post(f"{visitor.url}/gradio_api/queue/join", json=body)
    if joined.status_code != 200:
        return False, f"HTTP {joined.status_code}: {joined.text}"
    return visitor._result()


# --- GAN lab ---------------------------------------------------------------------------------


def test_a_long_lab_run_stops_at_the_cap(space, visitor):  # noqa: F811
    """The lab's page limit is 3000 steps (minutes on a CPU): stopped at the 2 s cap."""
    _, demo, _, _ = space
    ok, error = visitor.call(demo, "lab_train", inputs_of(demo, "lab_train", steps=3000))
    assert not ok and "2 s limit" in str(error)


def test_a_long_lab_comparison_stops_at_the_cap(space, visitor):  # noqa: F811
    """The red team's 3000-step comparison (about 27 minutes in the training lane)."""
    _, demo, _, _ = space
    ok, error = visitor.call(demo, "lab_compare", inputs_of(demo, "lab_compare", steps=3000))
    assert not ok and "2 s limit" in str(error)


def test_lab_uploads_are_held_to_the_pixel_budget_from_headers(space, visitor):  # noqa: F811
    """The lab's `uploads` had no pixel budget: 75 MP in a small zip, refused unread."""
    _, demo, _, _ = space
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"big{i}.png", png(Image.new("RGB", (5000, 5000))))
    files = [upload(visitor, "big.zip", packed.getvalue())]
    payload = inputs_of(demo, "lab_train", data="upload", uploads=files, steps=10)
    ok, error = visitor.call(demo, "lab_train", payload)
    assert not ok and "megapixels" in str(error)


def test_lab_runs_are_heavy_deadlined_gpu_jobs():
    from ui import policy

    for handler in ("train", "compare"):
        assert handler in policy.HEAVY and handler in policy.DEADLINED
        assert handler in policy.GPU_JOBS
    assert "uploads" in policy.IMAGE_PARAMS and "photo" in policy.IMAGE_PARAMS


# --- Judge ---------------------------------------------------------------------------------


def test_judge_refuses_giant_16_bit_images_from_headers(space, visitor):  # noqa: F811
    """The red team's 92 KB 16-bit 6300x6300 PNGs, two to a request."""
    _, demo, _, _ = space
    wide = png(Image.fromarray(np.zeros((6300, 6300), np.uint16)))
    files = [upload(visitor, f"w{i}.png", wide) for i in range(2)]
    payload = inputs_of(demo, "judge", images=files, seeds="")
    ok, error = visitor.call(demo, "judge", payload)
    assert not ok and "megapixels" in str(error)


def test_judge_has_its_own_lane_and_a_smaller_budget(space, tmp_path, monkeypatch):  # noqa: F811
    """Judge sees its images at D's resolution: 30 MP is refused, though under the upload
    budget, and its decoding never takes one of the cheap lane's two slots."""
    from core.errors import UserInputError
    from ui.policy import checked

    _, demo, _, _ = space
    fn = next(f for f in demo.fns.values() if f.api_name == "judge")
    assert fn.concurrency_id == "judge" and fn.concurrency_limit == 1
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    path = tmp_path / "big.png"
    Image.new("L", (6000, 5000)).save(path)
    quotas = Quotas(max_decoded_pixels_per_upload=100_000_000, judge_max_pixels=25_000_000)
    guard = type("Guard", (), {"quotas": quotas})()
    names = ["images", "model", "seeds"]
    refused = pytest.raises(UserInputError, match="25 megapixels")
    with refused, checked("judge_images", guard, OWNER, names, ([str(path)], "m", ""), {}):
        pass
    with checked("stylize", guard, OWNER, ["content"], (str(path),), {}):
        pass  # 30 MP is within the general budget


# --- Gradio's image inputs -----------------------------------------------------------------


def image_inputs(demo) -> list:
    return [(fn.name, c) for fn in demo.fns.values() for c in fn.inputs if isinstance(c, gr.Image)]


def test_every_image_input_hands_over_the_file_undecoded(space, grey_giant, tmp_path):  # noqa: F811
    """With `image_mode="RGB"`, Gradio decoded, converted and re-encoded a greyscale upload
    before any check of the app: no image input may load pixels in its pre-processing."""
    from gradio.data_classes import ImageData

    _, demo, _, _ = space
    inputs = image_inputs(demo)
    assert {name for name, _ in inputs} >= {"stylize", "project", "crop_preview"}
    path = tmp_path / "giant.png"
    path.write_bytes(grey_giant)
    decoded = []
    real_load = Image.Image.load

    def spy_load(self):
        decoded.append(self.size)
        return real_load(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image.Image, "load", spy_load)
        mp.setattr(Image.Image, "convert", lambda *a, **k: pytest.fail("converted"))
        for name, component in inputs:
            assert component.type == "filepath" and component.image_mode is None, name
            value = component.preprocess(ImageData(path=str(path), orig_name="giant.png"))
            assert value == str(path), name
    assert decoded == []


def test_a_base64_image_payload_is_refused(space):  # noqa: F811
    """Gradio decodes a `data:` URL whole in its pre-processing: refused before that. The
    refusal reaches the handler as a `RefusedUpload`, which `friendly` raises in the
    visitor's language before the handler runs."""
    from gradio.data_classes import ImageData

    from ui.common import RefusedUpload, friendly

    _, demo, _, _ = space
    _, component = image_inputs(demo)[0]
    payload = ImageData(path="x.png", url="data:image/png;base64,AAAA")
    refused = component.preprocess(payload)
    assert isinstance(refused, RefusedUpload)
    ran = []
    with pytest.raises(Exception, match="upload the image as a file"):
        friendly(lambda image: ran.append(image))(refused)
    assert ran == []


@pytest.mark.parametrize(
    "handler,param",
    [
        ("stylize", "content"),
        ("project", "photo"),
        ("crop_preview", "photo"),
        ("morph", "photo_a"),
        ("morph", "photo_b"),
    ],
)
def test_a_giant_greyscale_upload_is_refused_from_headers(
    space,  # noqa: F811
    visitor,
    grey_giant,
    handler,
    param,
):
    """The red team's 77 KB 8900x8900 greyscale PNG, to every image input, private
    `crop_preview` included: refused with a clear message, from its header."""
    _, demo, _, _ = space
    file = upload(visitor, "giant.png", grey_giant)
    ok, error = call_by_name(visitor, demo, handler, {param: file})
    assert not ok and "megapixels" in str(error), error
