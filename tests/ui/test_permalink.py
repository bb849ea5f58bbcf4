"""Permalinks: settings -> query string -> settings, validation, and the rerun on page load."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from core.errors import UserInputError
from ui import permalink
from ui.links import LinkedTab, _first_run, _rerun, _values_for

ROUND_TRIPS = [
    ("generate", {"seeds": "1-8, 42", "truncation_psi": 0.7, "model": "dcgan-digiface"}),
    (
        "interpolate",
        {
            "seeds": "1, 2, 3",
            "frames": 16,
            "mode": "lerp",
            "loop": True,
            "truncation_psi": 1.0,
            "fps": 12,
            "model": "dcgan-digiface",
        },
    ),
    (
        "style",
        {
            "steps": 100,
            "size": 256,
            "content_weight": 1.0,
            "style_weight": 300.0,
            "tv_weight": 1.0,
            "optimizer": "lbfgs",
            "init": "coarse",
            "preserve_colors": "luminance",
            "style_blend": "1, 0.5",
        },
    ),
    ("style", {"steps": 30, "size": 256, "init": "coarse", "example": "scream-shipwreck"}),
    (
        "project",
        {
            "example": "seed7",
            "crop_x": 0.4,
            "crop_y": 0.6,
            "crop_size": 0.8,
            "steps": 60,
            "w_plus": False,
            "preview_every": 10,
            "model": "dcgan-digiface",
        },
    ),
    ("lab", {"steps": 400, "lr_g": 0.0002, "lr_d": 0.002, "d_loss_threshold": 0.3, "seed": 7}),
    (
        "style_mixing",
        {
            "row_seeds": "1-3",
            "column_seeds": "4, 9",
            "preset": "custom",
            "layers": "0-3, 8",
            "truncation_psi": 0.7,
            "noise_mode": "random",
            "truncation_cutoff": 4,
            "class_idx": 2,
            "model": "sg2-ffhq",
        },
    ),
    (
        "edit",
        {
            "model": "dcgan-digiface",
            "seed": 42,
            "truncation_psi": 0.8,
            "layers": "coarse",
            "direction_0": 2.0,
            "direction_1": -1.5,
            "direction_2": 0.0,
            "direction_3": 0.3,
            "direction_4": -3.0,
        },
    ),
    ("judge", {"model": "my-faces", "seeds": "1-4, 9"}),
]


@pytest.mark.parametrize(
    "tab, values", ROUND_TRIPS, ids=[f"{t}{i}" for i, (t, _) in enumerate(ROUND_TRIPS)]
)
def test_every_tab_round_trips(tab, values):
    query = permalink.encode(tab, values)
    assert query.startswith(f"tab={tab}&")
    assert permalink.decode(query) == (tab, values)
    assert permalink.decode("?" + query) == (tab, values)


def test_types_come_back_as_the_handler_wants_them():
    _, values = permalink.decode("tab=interpolate&frames=16&loop=false&truncation_psi=1")
    assert values == {"frames": 16, "loop": False, "truncation_psi": 1.0}
    assert isinstance(values["frames"], int) and isinstance(values["truncation_psi"], float)


def test_a_url_without_a_link_is_no_link():
    assert permalink.decode({}) is None
    assert permalink.decode("") is None
    assert permalink.decode({"__theme": "dark"}) is None  # Gradio's own parameters


@pytest.mark.parametrize(
    "query, message",
    [
        ("tab=nope", "unknown tab"),
        ("seeds=1", "no tab="),
        ("tab=generate&sedes=1", "unknown parameter(s): sedes"),
        ("tab=generate&truncation_psi=abc", "must be a number"),
        ("tab=generate&truncation_psi=nan", "finite"),
        ("tab=generate&truncation_psi=9", "between 0 and 2"),
        ("tab=interpolate&frames=2.5", "whole number"),
        ("tab=interpolate&mode=spiral", "must be one of"),
        ("tab=interpolate&loop=maybe", "true or false"),
        ("tab=generate&seeds=" + "1," * 200, "too long"),
        ("tab=style&init=magic", "must be one of"),
        ("tab=style&example=my_photo.jpg", "must be one of"),
        ("tab=project&example=seed8", "must be one of"),
        ("tab=project&photo=/etc/passwd", "unknown parameter(s): photo"),
        ("tab=project&crop_size=0", "between 0.05 and 1"),
        ("tab=style_mixing&preset=all", "must be one of"),
        ("tab=style_mixing&noise_mode=loud", "must be one of"),
        ("tab=style_mixing&truncation_cutoff=-1", "between 0 and 18"),
        ("tab=style_mixing&class_idx=1.5", "whole number"),
        ("tab=edit&direction_2=4", "between -3 and 3"),
        ("tab=edit&seed=-5", "between 0 and"),
        ("tab=edit&layers=middle,fine", "must be one of"),
        ("tab=edit&latent_text=%5B1%5D", "unknown parameter(s): latent_text"),
        ("tab=judge&images=x.png", "unknown parameter(s): images"),
    ],
)
def test_invalid_links_get_clear_errors(query, message):
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        permalink.decode(query)


def test_encode_skips_other_fields_and_writes_booleans_lowercase():
    query = permalink.encode("interpolate", {"loop": True, "content": "x.png", "fps": None})
    assert query == "tab=interpolate&loop=true"


def test_every_built_in_example_can_be_named_in_a_link():
    from gan.project.examples import PROJECT_EXAMPLE_NAMES
    from style.examples import EXAMPLE_NAMES

    for tab, names in (("style", EXAMPLE_NAMES), ("project", PROJECT_EXAMPLE_NAMES)):
        for name in names:
            assert permalink.decode(f"tab={tab}&example={name}") == (tab, {"example": name})


def test_project_links_take_the_projectors_step_limit():
    from gan.project.projection import MAX_STEPS

    steps = next(f for f in permalink.TABS["project"] if f.name == "steps")
    assert steps.high == MAX_STEPS


def test_copy_link_js_names_the_fields():
    js = permalink.copy_link_js("generate", ["seeds", "truncation_psi"])
    assert '"seeds", "truncation_psi"' in js and "tab" in js and "clipboard" in js


def _fake_generate(seeds: str = "1-8", truncation_psi: float = 1.0, model: str = "m"):
    rng = np.random.default_rng(abs(hash((seeds, truncation_psi, model))) % 2**32)
    return rng.integers(0, 255, (2, 4, 4, 3)), seeds, truncation_psi


def test_a_link_reruns_its_tab_with_exactly_the_linked_values():
    linked = LinkedTab(
        "generate",
        {},
        _fake_generate,
        ["a", "b", "c"],
        on_load=True,
        defaults={"seeds": "1-8", "truncation_psi": 1.0, "model": "m"},
    )
    link = permalink.decode("tab=generate&seeds=5,7&truncation_psi=0.8")
    assert _values_for(linked, link) == {"seeds": "5,7", "truncation_psi": 0.8, "model": "m"}
    pixels, seeds, psi = _rerun(linked)(link)
    expected, _, _ = _fake_generate("5,7", 0.8, "m")
    assert np.array_equal(pixels, expected) and (seeds, psi) == ("5,7", 0.8)
    # No link, another tab's link or a bad one: Generate's first run shows its defaults (the
    # first page is not empty), and its rerun in the link chain leaves them ...
    for query in ({}, {"tab": "edit", "seed": "3"}, {"tab": "generate", "truncation_psi": "9"}):
        assert _first_run(linked)(SimpleNamespace(query_params=query))[1:] == ("1-8", 1.0)
    assert _rerun(linked)(None) == [gr.skip()] * 3
    # ... while a link to Generate leaves the first run to the chain's rerun.
    query = {"tab": "generate", "seeds": "5,7"}
    assert _first_run(linked)(SimpleNamespace(query_params=query)) == [gr.skip()] * 3
    # A tab without on_load stays as it is, and so does one linked elsewhere.
    other = LinkedTab("interpolate", {}, _fake_generate, ["a", "b", "c"])
    assert _values_for(other, None) is None
    assert _values_for(other, link) is None


def test_the_new_tabs_links_are_their_handlers_parameters():
    """Every linked name is a parameter of the tab's handler, so a rerun can call it."""
    import inspect

    from ui.edit import EditHandlers
    from ui.judge import JudgeHandlers
    from ui.style_mix import StyleMixHandlers

    for tab, handler in (
        ("style_mixing", StyleMixHandlers.style_mix),
        ("edit", EditHandlers.edit),
        ("judge", JudgeHandlers.judge_images),
    ):
        params = inspect.signature(handler).parameters
        assert [f.name for f in permalink.fields(tab) if f.name not in params] == [], tab
