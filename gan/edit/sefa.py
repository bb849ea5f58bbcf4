"""SeFa: closed-form factorisation of latent semantics (Shen & Zhou, CVPR 2021).

The directions are the eigenvectors of AᵀA, where A is the weight that first maps the latent
(each family's `sefa_layers`, gan/models/families.py):
- DCGAN: the first transposed convolution, seen as a linear map z (nz) -> C*k*k outputs;
- StyleGAN2: the affine (style) layers of a range of synthesis layers, stacked, w -> styles.

As in genforce/sefa, every output unit's weight row is scaled to unit norm before AᵀA is formed,
and the StyleGAN2 "layers" are the entries of W+ (`ws[:, i]`): entry i is read by the i-th
convolution's affine, and the last entry by the last toRGB's affine (the other toRGB layers share
an entry with a convolution and are left out, as genforce does). Moving along a direction adds it
to z (DCGAN), or to the chosen W+ entries only (StyleGAN2).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from core.errors import UserInputError
from gan.models import families

# Layer presets of genforce/sefa's interface (indices into W+, inclusive); clipped to num_ws.
PRESETS: dict[str, tuple[int, int] | None] = {
    "coarse": (0, 1),
    "middle": (2, 5),
    "fine": (6, 13),
    "all": None,
}
MAX_CACHED = 16
_AFFINE_RE = re.compile(r"^synthesis\.b(\d+)\.(conv0|conv1|torgb)\.affine\.weight$")


@dataclass(frozen=True)
class Directions:
    """SeFa directions of one model: rows of `vectors` are orthonormal, strongest first."""

    vectors: torch.Tensor  # (K, dim), float32, CPU
    eigenvalues: torch.Tensor  # (K,), descending
    space: str  # "z" (DCGAN) or "w" (StyleGAN2)
    layers: tuple[int, ...] = ()  # W+ entries that a move changes (StyleGAN2 only)

    @property
    def share(self) -> torch.Tensor:
        """Each direction's share of the spectrum (sums to 1)."""
        return self.eigenvalues / self.eigenvalues.sum()

    def labels(self, k: int) -> list[str]:
        return [f"#{i} ({100 * s:.1f}%)" for i, s in enumerate(self.share[:k].tolist())]


def factorize(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A (outputs, dim) -> (eigenvalues descending, eigenvectors as rows) of AᵀA.

    Rows of A are unit-normalised first (genforce/sefa's `weight / norm(weight, axis=0)` in
    their transposed layout). AᵀA is formed in float32 (as genforce does), the eigenproblem is
    solved in float64.
    """
    a = a.detach().to("cpu", torch.float32)
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    values, vectors = torch.linalg.eigh((a.T @ a).double())
    order = torch.argsort(values, descending=True)
    return values[order].float(), vectors[:, order].T.contiguous().float()


# --- Layers ----------------------------------------------------------------------------------


def affine_names(state_dict: dict[str, torch.Tensor]) -> list[str]:
    """StyleGAN2 affine weight names, one per W+ entry: every conv in order, then the last
    toRGB (the weights `families.STYLEGAN2.sefa_layers` reads from the module)."""
    found = [(int(m[1]), m[2], k) for k in state_dict if (m := _AFFINE_RE.match(k))]
    if not found:
        raise UserInputError("this generator has no StyleGAN2 affine layers")
    convs = sorted((res, kind, k) for res, kind, k in found if kind != "torgb")
    last_rgb = max((res, k) for res, kind, k in found if kind == "torgb")
    return [k for _, _, k in convs] + [last_rgb[1]]


def layer_indices(layers: str | Sequence[int], num_ws: int) -> tuple[int, ...]:
    """A preset name, "a-b" range, "1,3,5" list or index sequence -> sorted W+ indices."""
    if isinstance(layers, str):
        text = layers.strip().lower()
        if text in PRESETS:
            bounds = PRESETS[text]
            lo, hi = bounds if bounds else (0, num_ws - 1)
            indices = list(range(lo, min(hi, num_ws - 1) + 1))
        else:
            indices = _parse_index_text(text)
    else:
        indices = [int(i) for i in layers]
    bad = [i for i in indices if not 0 <= i < num_ws]
    if bad:
        raise UserInputError(
            f"layer {bad[0]} is out of range: this model has layers 0-{num_ws - 1}"
        )
    if not indices:
        raise UserInputError(f"no layers chosen ({layers!r} is empty for {num_ws} layers)")
    return tuple(sorted(set(indices)))


def _parse_index_text(text: str) -> list[int]:
    indices: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError as e:
            raise UserInputError(
                f"layers must be {', '.join(PRESETS)}, a range like 2-5 or a list like 0,1,4"
            ) from e
        indices += range(a, b + 1)
    return indices


# --- Entry points ---------------------------------------------------------------------------


def sefa(generator: nn.Module, layers: str | Sequence[int] = "all") -> Directions:
    """SeFa directions of any family's generator over its SeFa layers (the family's
    `sefa_layers`): a W family's chosen W+ entries, a z family's layers all (`layers` unused)."""
    family = families.family_of(generator)
    weights = family.sefa_layers(generator)
    if family.has_w:
        idx = layer_indices(layers, len(weights))
        values, vectors = factorize(torch.cat([weights[i] for i in idx]))
        return Directions(vectors, values, "w", idx)
    values, vectors = factorize(torch.cat(weights))
    return Directions(vectors, values, "z")


def offset(directions: Directions, alphas: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """sum_k alpha_k v_k, shape (dim,), for the first len(alphas) directions."""
    alphas = torch.as_tensor(alphas, dtype=torch.float32).flatten()
    if len(alphas) > len(directions.vectors):
        raise UserInputError(f"at most {len(directions.vectors)} directions")
    if not torch.isfinite(alphas).all():
        raise UserInputError("slider values must be finite numbers")
    return alphas @ directions.vectors[: len(alphas)]


def move(
    latent: torch.Tensor, directions: Directions, alphas: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """Move z (N, nz) or W+ (N, num_ws, w_dim) along the directions; the input is not changed.

    A W+ input is moved on `directions.layers` only (genforce/sefa's `code[:, layers] += ...`).
    """
    delta = offset(directions, alphas).to(latent.device, latent.dtype)
    out = latent.clone()
    if directions.space == "w":
        if latent.dim() != 3:
            raise UserInputError("a StyleGAN2 edit needs W+ latents of shape (N, num_ws, w_dim)")
        out[:, list(directions.layers)] += delta
    else:
        out += delta
    return out


def strip(
    latent: torch.Tensor, directions: Directions, k: int, sigmas: Sequence[float]
) -> torch.Tensor:
    """Latents of one direction at several distances, e.g. -3..3: shape (len(sigmas), ...)."""
    rows = []
    for s in sigmas:
        alphas = torch.zeros(k + 1)
        alphas[k] = float(s)
        rows.append(move(latent[:1], directions, alphas))
    return torch.cat(rows)


# --- Cache ----------------------------------------------------------------------------------


def fingerprint(generator: nn.Module) -> str:
    """A hash of the weights that SeFa reads (so a re-trained model gets new directions)."""
    h = hashlib.sha1()
    for t in families.family_of(generator).sefa_layers(generator):
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class DirectionCache:
    """Directions per (model name, weights fingerprint, layers), least recently used dropped."""

    def __init__(self, max_items: int = MAX_CACHED) -> None:
        self.max_items = max_items
        self._items: OrderedDict[tuple, Directions] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, name: str, generator: nn.Module, layers: str | Sequence[int] = "all"
    ) -> Directions:
        layer_key = layers if isinstance(layers, str) else tuple(layers)
        key = (name, fingerprint(generator), layer_key)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        directions = sefa(generator, layers)
        with self._lock:
            self._items[key] = directions
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return directions

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
