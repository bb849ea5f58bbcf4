"""FaceStudio on a tiny random StyleGAN2 folder: generate, truncation in W, noise modes,
classes, Z/W interpolation, style mixing, latent export and import."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import UserInputError
from gan import latents
from gan.generate.faces import FacesRequest, SG2Settings, mix_layers
from gan.generate.service import FaceStudio
from tests.gan.sg2_models import save_tiny
from tests.gan.sg2_tiny import one_thread

single_thread = pytest.fixture(autouse=True)(one_thread)


@pytest.fixture
def studio(checkpoints) -> FaceStudio:
    save_tiny(checkpoints, "sg2-tiny")
    save_tiny(checkpoints, "sg2-cond", seed=1, c_dim=3)
    return FaceStudio(torch.device("cpu"))


def _reference(G, z, c=None, psi=1.0, cutoff=None, noise_mode="const") -> np.ndarray:
    """The module itself, float32, no channels_last: what the studio must reproduce."""
    with torch.no_grad():
        img = G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=noise_mode)
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def test_stylegan2_is_listed_and_generates_native_resolution(studio, checkpoints):
    assert {"sg2-tiny", "sg2-cond"} <= set(studio.model_choices())
    faces = studio.generate("sg2-tiny", seeds=[1, 2, 3])
    assert faces.images.shape == (3, 32, 32, 3) and faces.images.dtype == np.uint8
    assert faces.w.shape == (3, 8, 16) and faces.z.shape == (3, 16)
    assert studio.model_info("sg2-tiny") == {
        "stylegan2": True,
        "c_dim": 0,
        "num_ws": 8,
        "resolution": 32,
        "noise_inputs": True,
        "input_transform": False,
    }


def test_generate_matches_the_module_and_is_deterministic(studio, checkpoints):
    G = save_tiny(checkpoints, "sg2-check", seed=5)
    s = SG2Settings(truncation_cutoff=3)
    faces = studio.generate("sg2-check", seeds=[4, 9], truncation_psi=0.7, sg2=s)
    expected = _reference(G, latents.seeds_to_z([4, 9], 16), psi=0.7, cutoff=3)
    assert np.abs(faces.images.astype(int) - expected.astype(int)).max() <= 1
    again = studio.generate("sg2-check", seeds=[4, 9], truncation_psi=0.7, sg2=s)
    assert np.array_equal(faces.images, again.images)  # 'const' noise by default


def test_the_generator_is_cached_and_channels_last(studio):
    G = studio.generator("sg2-tiny")
    assert studio.generator("sg2-tiny") is G
    weight = G.synthesis.b8.conv0.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)


def test_psi_zero_gives_the_w_avg_image(studio):
    G = studio.generator("sg2-tiny")
    faces = studio.generate("sg2-tiny", seeds=[1, 2], truncation_psi=0.0)
    assert np.array_equal(faces.images[0], faces.images[1])
    w_avg = G.mapping.w_avg.cpu()[None, None].repeat(1, G.num_ws, 1)
    assert torch.allclose(faces.w[0], w_avg[0])
    assert np.array_equal(studio.render("sg2-tiny", w_avg)[0], faces.images[0])


def test_truncation_cutoff_truncates_only_the_first_ws(studio):
    plain = studio.generate("sg2-tiny", seeds=[3]).w
    cut = studio.generate(
        "sg2-tiny", seeds=[3], truncation_psi=0.0, sg2=SG2Settings(truncation_cutoff=2)
    ).w
    w_avg = studio.generator("sg2-tiny").mapping.w_avg.cpu()
    assert torch.allclose(cut[0, :2], w_avg.expand(2, -1))
    assert torch.equal(cut[0, 2:], plain[0, 2:])
    with pytest.raises(UserInputError, match="truncation_cutoff"):
        studio.generate("sg2-tiny", seeds=[3], sg2=SG2Settings(truncation_cutoff=99))


def test_noise_modes(studio):
    const = studio.generate("sg2-tiny", seeds=[1]).images
    none = studio.generate("sg2-tiny", seeds=[1], sg2=SG2Settings(noise_mode="none")).images
    random_a = studio.generate("sg2-tiny", seeds=[1], sg2=SG2Settings(noise_mode="random")).images
    random_b = studio.generate("sg2-tiny", seeds=[1], sg2=SG2Settings(noise_mode="random")).images
    assert not np.array_equal(const, none)
    assert not np.array_equal(random_a, random_b)
    with pytest.raises(UserInputError, match="noise_mode"):
        studio.generate("sg2-tiny", seeds=[1], sg2=SG2Settings(noise_mode="loud"))


def test_class_index_conditions_the_model_and_is_ignored_unconditionally(studio):
    a = studio.generate("sg2-cond", seeds=[1], sg2=SG2Settings(class_idx=0)).images
    b = studio.generate("sg2-cond", seeds=[1], sg2=SG2Settings(class_idx=2)).images
    assert not np.array_equal(a, b)
    with pytest.raises(UserInputError, match="class_idx"):
        studio.generate("sg2-cond", seeds=[1], sg2=SG2Settings(class_idx=3))
    plain = studio.generate("sg2-tiny", seeds=[1]).images
    ignored = studio.generate("sg2-tiny", seeds=[1], sg2=SG2Settings(class_idx=7)).images
    assert np.array_equal(plain, ignored)


@pytest.mark.parametrize("space", ["z", "w"])
def test_interpolation_ends_on_the_keyframes(studio, space):
    frames = studio.interpolate("sg2-tiny", [1, 2], 5, "slerp", space=space, truncation_psi=0.8)
    ends = studio.generate("sg2-tiny", seeds=[1, 2], truncation_psi=0.8).images
    assert frames.shape == (5, 32, 32, 3)
    assert np.abs(frames[[0, -1]].astype(int) - ends.astype(int)).max() <= 1


def test_a_walk_point_is_the_walks_frame_and_its_w(studio):
    """ "Keep this frame": frame 3 of the walk, its face as the walk shows it and its w."""
    walk = {"seeds": "1, 2, 3", "frames": 4, "mode": "cubic", "truncation_psi": 0.7}
    frames = studio.interpolate("sg2-tiny", [1, 2, 3], 4, "cubic", truncation_psi=0.7)
    latent, image = studio.walk_point_request("sg2-tiny", frame=3, **walk)
    assert latent.space == "w" and latent.value.shape[0] == 1
    assert np.array_equal(image, frames[2])
    assert np.array_equal(studio.render("sg2-tiny", latent.value)[0], frames[2])
    with pytest.raises(UserInputError, match="pick a frame from 1 to 7"):
        studio.walk_point_request("sg2-tiny", frame=8, **walk)


def test_w_interpolation_is_linear_in_w(studio):
    keys = studio.generate("sg2-tiny", seeds=[1, 2]).w
    middle = studio.render("sg2-tiny", (keys[:1] + keys[1:]) / 2)
    frames = studio.interpolate("sg2-tiny", [1, 2], 3, space="w")
    assert np.abs(frames[1].astype(int) - middle[0].astype(int)).max() <= 1
    z_frames = studio.interpolate("sg2-tiny", [1, 2], 3, space="z")
    assert not np.array_equal(frames[1], z_frames[1])  # a different path
    with pytest.raises(UserInputError, match="space"):
        studio.interpolate("sg2-tiny", [1, 2], 3, space="x")


def test_style_mixing_shapes_and_the_grid(studio):
    mix = studio.style_mix("sg2-tiny", [1, 2], [3, 4, 5], mix_layers("coarse", "", 8))
    assert mix.rows.shape == (2, 32, 32, 3) and mix.columns.shape == (3, 32, 32, 3)
    assert mix.mixed.shape == (2, 3, 32, 32, 3) and mix.layers == [0, 1, 2, 3]
    grid = mix.grid()
    assert grid.shape == (3 * 34 + 2, 4 * 34 + 2, 3)  # (rows + 1) x (columns + 1), 2 px pad
    assert np.array_equal(grid[36:68, 2:34], mix.rows[0])  # the row's own face on the left
    assert np.array_equal(grid[2:34, 36:68], mix.columns[0])  # the column's along the top
    assert (grid[2:34, 2:34] == 255).all()  # a blank corner


def test_mixing_a_seed_with_itself_gives_the_plain_image(studio):
    plain = studio.generate("sg2-tiny", seeds=[7]).images[0]
    mix = studio.style_mix("sg2-tiny", [7], [7], list(range(8)))
    assert np.abs(mix.mixed[0, 0].astype(int) - plain.astype(int)).max() <= 1


def test_mixing_all_layers_gives_the_column_and_none_would_be_refused(studio):
    mix = studio.style_mix("sg2-tiny", [1], [2], list(range(8)))
    assert np.abs(mix.mixed[0, 0].astype(int) - mix.columns[0].astype(int)).max() <= 1
    with pytest.raises(UserInputError, match="style layers"):
        studio.style_mix("sg2-tiny", [1], [2], [8])


def test_mix_layer_presets_and_custom_ranges():
    assert mix_layers("coarse", "", 18) == [0, 1, 2, 3]
    assert mix_layers("middle", "", 18) == [4, 5, 6, 7]
    assert mix_layers("fine", "", 18) == list(range(8, 18))
    assert mix_layers("custom", "2-3, 9", 18) == [2, 3, 9]
    with pytest.raises(UserInputError, match="no style layers"):
        mix_layers("fine", "", 8)  # a 32 px model has no fine layers
    with pytest.raises(UserInputError, match="preset"):
        mix_layers("all", "", 8)


def test_style_mix_request_writes_a_native_png(studio):
    mix, png, preview = studio.style_mix_request("sg2-tiny", "1-2", "3", "custom", "0-1")
    from PIL import Image

    assert Image.open(png).size == (2 * 34 + 2, 3 * 34 + 2) and mix.layers == [0, 1]
    assert Image.open(preview).size == (2 * 258 + 2, 3 * 258 + 2)  # 256 px faces to view


def test_style_mixing_needs_a_stylegan2(studio, checkpoints):
    import shutil

    from tests.conftest import ROOT

    shutil.copytree(ROOT / "checkpoints" / "dcgan-digiface", checkpoints / "dcgan")
    with pytest.raises(UserInputError, match="StyleGAN2"):
        studio.style_mix_request("dcgan", "1", "2")


def _files(archive: Path) -> dict[str, Path]:
    """The files of a `zip_request` zip, extracted beside it."""
    folder = archive.with_suffix("")
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)
    return {p.name: p for p in folder.iterdir()}


@pytest.mark.parametrize("name", ["w.npy", "w.json", "latents.npy", "latents.json"])
def test_exported_latents_reproduce_their_images(studio, name):
    s = SG2Settings(truncation_cutoff=4, noise_mode="const")
    faces, _ = studio.generate_request("sg2-tiny", FacesRequest("5, 6", 0.6, sg2=s))
    files = _files(studio.zip_request("sg2-tiny", FacesRequest("5, 6", 0.6, sg2=s)))
    assert {"w.npy", "w.json", "latents.npy", "latents.json"} <= set(files)
    assert np.load(files["w.npy"]).shape == (2, 8, 16)
    assert np.load(files["latents.npy"]).shape == (2, 16)
    # w renders as it is (any ψ given now is unused); z is mapped again with the same settings.
    again, _ = studio.generate_request(
        "sg2-tiny", FacesRequest("", 0.6, latent_file=str(files[name]), sg2=s)
    )
    assert np.array_equal(again.images, faces.images)
    if name.startswith("w"):
        assert torch.equal(again.w, faces.w)


def test_pasted_w_json_and_the_export_records_settings(studio):
    faces, _ = studio.generate_request("sg2-tiny", FacesRequest("5", 0.5))
    files = _files(studio.zip_request("sg2-tiny", FacesRequest("5", 0.5)))
    exported = json.loads(files["latents.json"].read_text())
    assert exported["truncation_psi"] == 0.5 and exported["noise_mode"] == "const"
    assert exported["seeds"] == [5]
    text = files["w.json"].read_text()
    again, _ = studio.generate_request("sg2-tiny", FacesRequest("", 1.0, latent_vector=text))
    assert np.array_equal(again.images, faces.images)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[1, 2], [3, 4]]", "shape"),
        (json.dumps({"w": [[[0.0] * 16] * 7]}), "shape"),
        (json.dumps({"w": [[[1e9] * 16] * 8]}), "within"),
        ('{"w": "x"}', "list of numbers"),
    ],
)
def test_bad_latents_are_clear_errors(studio, text, message):
    with pytest.raises(UserInputError, match=message):
        studio.generate_request("sg2-tiny", FacesRequest("", 1.0, latent_vector=text))


def test_w_latents_are_refused_by_a_dcgan(studio, checkpoints):
    import shutil

    from tests.conftest import ROOT

    shutil.copytree(ROOT / "checkpoints" / "dcgan-digiface", checkpoints / "dcgan")
    with pytest.raises(UserInputError, match="shape"):
        studio.generate_request(
            "dcgan", FacesRequest("", 1.0, latent_vector=json.dumps([[[0.0] * 100]]))
        )


def test_a_resized_figure_keeps_its_layout(studio):
    mix = studio.style_mix("sg2-tiny", [1, 2], [3], [0, 1])
    small = mix.resized(16)
    assert small.mixed.shape == (2, 1, 16, 16, 3) and small.rows.shape == (2, 16, 16, 3)
    assert small.grid().shape == (3 * 18 + 2, 2 * 18 + 2, 3)
