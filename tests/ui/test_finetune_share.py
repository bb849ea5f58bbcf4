"""The Fine-tune tab's examples and permalink: the examples fill a form that runs (the three
paintings of examples/, a few crops each, quick settings), and a link carries the settings,
never the images."""

from __future__ import annotations

import inspect

import pytest
from gradio_client import handle_file

from core import store
from core.errors import UserInputError
from ui import permalink
from ui.finetune import EXAMPLE_FIELDS, FinetuneHandlers, example_rows


def test_the_examples_are_the_paintings_with_settings_for_every_field():
    rows = example_rows()
    assert len(rows) == 2 and all(len(row) == len(EXAMPLE_FIELDS) for row in rows)
    names = set(inspect.signature(FinetuneHandlers.finetune).parameters)
    assert set(EXAMPLE_FIELDS) <= names  # each fills an input of /finetune
    assert all(len(row[0]) == 3 for row in rows)


def test_the_page_shows_the_examples(client):
    datasets = [c["props"] for c in client.config["components"] if c.get("type") == "dataset"]
    quick = "Three paintings, quick (10 steps, CPU-sized)"  # plain text, not i18n metadata
    ours = [d for d in datasets if quick in (d.get("sample_labels") or [])]
    assert len(ours) == 1 and len(ours[0]["samples"]) == 2
    assert "munch_the_scream" in str(ours[0]["samples"])


def test_the_quick_example_runs_as_filled(client, app_services):
    paintings, name, steps, batch, crops, kid = example_rows()[0]
    *_, result = client.predict(
        images=[handle_file(p) for p in paintings],
        name=name,
        steps=steps,
        batch_size=batch,
        crops_per_image=crops,
        kid=kid,
        api_name="/finetune",
    )
    assert result["ended"] == "finished" and result["steps"] == steps
    assert result["images"] == 3 * crops  # 3 paintings, `crops` crops of each
    assert store.local_model_dir(name) is not None


def test_too_few_paintings_without_crops_is_a_clear_error(client):
    paintings = example_rows()[0][0]
    with pytest.raises(Exception, match="at least 8 images"):
        client.predict(images=[handle_file(p) for p in paintings], name="x", api_name="/finetune")


def test_a_finetune_link_round_trips_its_settings():
    values = {
        "model": "dcgan-digiface", "steps": 0, "batch_size": 8, "crops_per_image": 4,
        "lr_g": 0.0025, "hflip": True, "freeze_d": 2, "kid": False, "augment": "diffaugment",
        "ada_target": 0.6, "r1_gamma": 0.5,
    }  # fmt: skip
    query = permalink.encode("finetune", values)
    assert permalink.decode(query) == ("finetune", values)
    names = {f.name for f in permalink.fields("finetune")}
    assert names <= set(inspect.signature(FinetuneHandlers.finetune).parameters)
    assert not names & {"images", "name", "resume"}  # no images, no run to continue


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tab=finetune&images=/etc/passwd", "unknown parameter"),
        ("tab=finetune&augment=blur", "must be one of"),
        ("tab=finetune&lr_g=1", "between"),
    ],
)
def test_bad_finetune_links_are_clear_errors(query, message):
    with pytest.raises(UserInputError, match=message):
        permalink.decode(query)
