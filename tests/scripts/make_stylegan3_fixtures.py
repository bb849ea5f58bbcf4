"""Make the StyleGAN3 fixtures in tests/fixtures/stylegan3/ with NVIDIA's own code.

Runs OUTSIDE the project, against an unpacked NVIDIA stylegan3 checkout (never copied here):

    PYTHONPATH=/path/to/stylegan3:/path/with/scipy \
        python tests/scripts/make_stylegan3_fixtures.py --reference /path/to/stylegan3

NVIDIA's code needs scipy and `pkg_resources.parse_version` (a one-line stand-in,
`from packaging.version import parse as parse_version`, on the path will do).

For each tiny random network pair it writes `<name>.pkl`, pickled as NVIDIA's training loop does
(`dict(G, D, G_ema, augment_pipe, training_set_kwargs)`, the embedded module source replaced by a
one-line placeholder so that no NVIDIA source lands in this repository), and `<name>.npz` with
the reference outputs: latents, labels, ws, images at psi 1 and 0.7, untransformed and with
translate (0.2, -0.1) + rotate 15 degrees (as `gen_images.py --translate --rotate` sets them),
and the D's logits.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import pickle
import sys
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("make_stylegan3_fixtures")
OUT = Path(__file__).resolve().parents[1] / "fixtures" / "stylegan3"
TRANSLATE, ROTATE = (0.2, -0.1), 15.0
SOURCE_PLACEHOLDER = "# NVIDIA's module source is left out of this test fixture\n"

# Small, unusual configs: odd channel counts, margins, layer counts; one conditional.
CONFIGS = {
    "sg3t": dict(
        cls="stylegan3",
        G=dict(
            z_dim=12,
            w_dim=10,
            c_dim=0,
            img_resolution=32,
            img_channels=3,
            mapping_kwargs=dict(num_layers=3),
            channel_base=640,
            channel_max=24,
            num_layers=6,
            num_critical=2,
            margin_size=3,
            num_fp16_res=2,
            conv_clamp=256,
            magnitude_ema_beta=0.999,
        ),
    ),
    "sg3r": dict(
        cls="stylegan3",
        G=dict(
            z_dim=10,
            w_dim=12,
            c_dim=4,
            img_resolution=32,
            img_channels=3,
            mapping_kwargs=dict(num_layers=2),
            channel_base=768,
            channel_max=20,
            num_layers=5,
            num_critical=1,
            margin_size=4,
            output_scale=0.5,
            num_fp16_res=4,
            conv_clamp=256,
            conv_kernel=1,
            use_radial_filters=True,
            magnitude_ema_beta=0.998,
        ),
    ),
    "sg2": dict(
        cls="stylegan2",
        G=dict(
            z_dim=12,
            w_dim=10,
            c_dim=0,
            img_resolution=16,
            img_channels=3,
            mapping_kwargs=dict(num_layers=2),
            channel_base=192,
            channel_max=24,
            num_fp16_res=2,
            conv_clamp=256,
            fused_modconv_default="inference_only",
        ),
    ),
}


def make_transform(translate: tuple[float, float], angle: float) -> np.ndarray:
    """gen_images.py's transform (rotation by `angle` degrees, then translation)."""
    s, c = np.sin(np.radians(angle)), np.cos(np.radians(angle))
    return np.array([[c, s, translate[0]], [-s, c, translate[1]], [0, 0, 1]])


def _perturb(net: torch.nn.Module, gen: torch.Generator) -> None:
    """Random values where NVIDIA initialises constants, so every tensor matters."""
    with torch.no_grad():
        for name, t in net.state_dict().items():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("bias", "w_avg") or name.endswith("input.affine.weight"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.5)
            elif leaf == "magnitude_ema":
                t.copy_(torch.rand([], generator=gen) * 1.5 + 0.5)
            elif leaf == "noise_strength":
                t.copy_(torch.randn([], generator=gen) * 0.3)


@contextlib.contextmanager
def _sources_hidden(*modules):
    """The persistent classes pickle a placeholder instead of their source (while dumping only:
    NVIDIA's deepcopy runs the source)."""
    classes = [v for m in modules for v in vars(m).values() if hasattr(v, "_orig_module_src")]
    saved = [cls._orig_module_src for cls in classes]
    for cls in classes:
        cls._orig_module_src = SOURCE_PLACEHOLDER
    try:
        yield
    finally:
        for cls, src in zip(classes, saved, strict=True):
            cls._orig_module_src = src


def _networks(name: str, spec: dict, nets) -> tuple:
    gen = torch.Generator().manual_seed(sum(map(ord, name)))
    torch.manual_seed(sum(map(ord, name)))
    kw = copy.deepcopy(spec["G"])
    module = nets[spec["cls"]]
    from dnnlib import EasyDict

    kw["mapping_kwargs"] = EasyDict(kw["mapping_kwargs"])
    G = module.Generator(**kw)
    _perturb(G, gen)
    G_ema = copy.deepcopy(G)
    _perturb(G, gen)  # G differs from G_ema: the converter must take G_ema
    D = nets["stylegan2"].Discriminator(
        c_dim=kw["c_dim"],
        img_resolution=kw["img_resolution"],
        img_channels=kw["img_channels"],
        channel_base=kw["channel_base"],
        channel_max=kw["channel_max"],
        num_fp16_res=2,
        conv_clamp=256,
        block_kwargs=EasyDict(freeze_layers=0),
        mapping_kwargs=EasyDict(),
        epilogue_kwargs=EasyDict(mbstd_group_size=2),
    )
    _perturb(D, gen)
    return G, D, G_ema, gen


def _outputs(G, D, gen: torch.Generator) -> dict[str, np.ndarray]:
    z = torch.randn([4, G.z_dim], generator=gen)
    c = torch.zeros([4, G.c_dim])
    if G.c_dim:
        c[torch.arange(4), torch.arange(4) % G.c_dim] = 1
    out = {"z": z, "c": c, "ws": G.mapping(z, c)}
    for psi in (1.0, 0.7):
        out[f"img_psi{psi}"] = G(z, c, truncation_psi=psi, noise_mode="const")
        if hasattr(G.synthesis, "input"):
            m = np.linalg.inv(make_transform(TRANSLATE, ROTATE))
            G.synthesis.input.transform.copy_(torch.from_numpy(m))
            out[f"img_psi{psi}_moved"] = G(z, c, truncation_psi=psi, noise_mode="const")
            G.synthesis.input.transform.copy_(torch.eye(3))
    out["d_logits"] = D(out["img_psi1.0"], c)
    return {k: v.detach().numpy().astype(np.float32) for k, v in out.items()}


def write(name: str, spec: dict, nets, out: Path) -> None:
    G, D, G_ema, gen = _networks(name, spec, nets)
    data = dict(G=G, D=D, G_ema=G_ema, augment_pipe=None, training_set_kwargs=dict(resolution=8))
    data = {
        k: copy.deepcopy(v).eval().requires_grad_(False) if isinstance(v, torch.nn.Module) else v
        for k, v in data.items()
    }
    with torch.no_grad():
        arrays = _outputs(data["G_ema"], data["D"], gen)
    with open(out / f"{name}.pkl", "wb") as f, _sources_hidden(*nets.values()):
        pickle.dump(data, f)
    np.savez_compressed(out / f"{name}.npz", **arrays)
    log.info("%s: %s", name, {k: v.shape for k, v in arrays.items()})


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, required=True, help="NVIDIA stylegan3 checkout")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    sys.path.insert(0, str(args.reference))
    from training import networks_stylegan2, networks_stylegan3

    nets = {"stylegan2": networks_stylegan2, "stylegan3": networks_stylegan3}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, spec in CONFIGS.items():
        write(name, spec, nets, args.out)


if __name__ == "__main__":
    main()
