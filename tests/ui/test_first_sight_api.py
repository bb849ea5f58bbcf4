"""Issue 21 through the API and the page's config: plain messages for files that are no image,
plots whose legends show, whole-step axes, and the lab's "custom" preset."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest
from gradio_client import handle_file

from tests.api_helpers import call_raw
from ui.lab import CUSTOM, PRESET, LabHandlers, matching_preset
from ui.plots import MIN_STEP_SPAN, whole_steps


@pytest.fixture
def text_png(tmp_path) -> str:
    path = tmp_path / "holiday.png"
    path.write_text("this is a text file, not a picture\n")
    return str(path)


def plain(message: str) -> bool:
    """A message for a person: no server path, no Gradio internals."""
    return "/tmp" not in message and "Could not preprocess" not in message and "/" not in message


def error_of(client, **call) -> str:
    with pytest.raises(Exception) as raised:
        client.predict(**call)
    return str(raised.value)


@pytest.mark.parametrize(
    "call",
    [
        {"api_name": "/stylize", "content": "FILE", "style": "FILE"},
        {"api_name": "/project", "photo": "FILE"},
    ],
    ids=["style transfer", "project"],
)
def test_a_text_file_named_png_gets_a_plain_message(client, text_png, call):
    kwargs = {k: handle_file(text_png) if v == "FILE" else v for k, v in call.items()}
    message = error_of(client, **kwargs)
    assert "holiday.png is not an image that can be read" in message
    assert plain(message), message


@pytest.mark.parametrize(
    "call",
    [
        {"api_name": "/judge", "images": ["FILE"], "seeds": ""},
        {"api_name": "/finetune", "images": ["FILE"]},
        {"api_name": "/lab_train", "data": "upload", "uploads": ["FILE"], "steps": 10},
    ],
    ids=["judge", "fine-tune", "lab"],
)
def test_file_lists_name_the_text_file_without_a_path(client, text_png, call):
    kwargs = {k: [handle_file(text_png)] if v == ["FILE"] else v for k, v in call.items()}
    message = error_of(client, **kwargs)
    assert "/tmp" not in message and "Could not preprocess" not in message, message


def test_plots_with_a_colour_legend_have_no_fixed_height(app_url):
    """A fixed height clips the legend below the plot: only its title ("term") showed."""
    config = httpx.get(app_url.rstrip("/") + "/config", timeout=60).json()
    plots = [c["props"] for c in config["components"] if c["type"] == "nativeplot"]
    coloured = [p for p in plots if p.get("color")]
    assert coloured
    assert [p.get("label") for p in coloured if p.get("height")] == []


def test_training_plots_span_whole_steps():
    frame = pd.DataFrame({"step": [1, 2], "network": ["D", "D"], "loss": [0.5, 0.4]})
    assert whole_steps(frame, 5)["x_lim"] == [0, MIN_STEP_SPAN]
    assert whole_steps(frame, 400)["x_lim"] == [0, 400]
    assert whole_steps(frame, 5)["value"] is frame


def test_the_lab_menu_names_a_preset_only_for_its_own_settings():
    assert matching_preset(*LabHandlers.preset(None, PRESET)) == PRESET
    _, lr_g, lr_d, threshold = LabHandlers.preset(None, PRESET)
    assert matching_preset(40, lr_g, lr_d, threshold) == CUSTOM


def test_a_custom_preset_trains_with_the_given_settings(client):
    """A link's "custom" reaches the API as a preset name the lab accepts."""
    kind, _ = call_raw(
        client.src.rstrip("/"),
        "lab_train",
        '{"data": ["toy", null, "custom", 10, 0.0002, 0.0002, 0, 1, ""]}',
        timeout=300,
    )
    assert kind == "complete"


def _key(label: object) -> str:
    """The i18n key of a config label (`__i18n__{...}`), or the label itself."""
    text = str(label)
    return json.loads(text[len("__i18n__") :])["key"] if text.startswith("__i18n__") else text


def _labels_by_tab(node: dict, kinds: dict, labels: dict, tab: str | None = None) -> None:
    """The label keys of the dropdowns and file boxes under each tab of the layout tree."""
    kind, props = kinds.get(node["id"], ("root", {}))
    if kind == "tabitem":
        tab = _key(props.get("label"))
    elif kind in {"dropdown", "file"} and tab and props.get("label"):
        labels.setdefault(tab, []).append(_key(props["label"]))
    for child in node.get("children", []):
        _labels_by_tab(child, kinds, labels, tab)


def test_no_tab_has_two_pickers_with_one_label(app_url):
    """Style mixing had two "Saved latents" dropdowns, one for the rows, one for the columns."""
    config = httpx.get(app_url.rstrip("/") + "/config", timeout=60).json()
    kinds = {c["id"]: (c["type"], c.get("props", {})) for c in config["components"]}
    labels: dict[str, list[str]] = {}
    _labels_by_tab(config["layout"], kinds, labels)
    assert "style_mixing.row_picker.label" in labels["tab.style_mixing"]
    repeated = {tab: {x for x in found if found.count(x) > 1} for tab, found in labels.items()}
    assert {tab: rep for tab, rep in repeated.items() if rep} == {}
