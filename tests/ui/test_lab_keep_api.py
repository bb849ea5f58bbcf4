"""The GAN lab through the running app: a kept lab run generates in Generate; the
high-resolution experiment streams its three runs."""

from __future__ import annotations

import secrets

import pandas as pd
from PIL import Image


def test_a_saved_lab_model_generates_in_generate_through_the_api(client):
    name = f"lab-{secrets.token_hex(4)}"
    job = client.submit(data="toy", steps=10, seed=1, save_as=name, api_name="/lab_train")
    samples, _losses, _probs, _collapse, info, timelapse = job.result(timeout=600)
    assert samples is not None and "10/10" in info and name not in info  # no server path
    assert Image.open(timelapse).n_frames >= 1
    gallery, _z, _info = client.predict(seeds="3, 4", model=name, api_name="/generate")[:3]
    assert len(gallery) == 2
    assert Image.open(gallery[0]["image"]).size == (32, 32)


def test_the_high_resolution_experiment_streams_samples_and_kid_of_all_three(client):
    job = client.submit(preset="tiny (3 x 1 s)", api_name="/lab_highres")
    *grids, kid, text = job.result(timeout=600)
    assert all(grid is not None for grid in grids)
    kid = pd.DataFrame(kid["data"], columns=kid["columns"])
    assert set(kid["run"]) == {"DCGAN", "ProGAN", "MSG-GAN"}
    assert (kid.groupby("run")["seconds"].max() >= 1.0).all()
    assert "Final KID" in text and "The claim" in text
