"""Permalinks: a tab's settings as URL query parameters, and back, with validation.

A link is `?tab=<tab>&<name>=<value>&...`, the names being the tab handler's parameter names
(the API's), so `?tab=generate&seeds=1-8&truncation_psi=0.7` restores and reruns Generate.
Pure Python (no Gradio): `encode` builds the query, `decode` checks every value and raises
`UserInputError` with a message for the person; `copy_link_js` is the browser side of the
"Copy link" buttons. Images never go into a link (Style transfer and Project links hold their
settings, and may name a built-in example, which the link then reruns).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from core.errors import UserInputError
from gan.project.examples import PROJECT_EXAMPLE_NAMES
from style.examples import EXAMPLE_NAMES as STYLE_EXAMPLE_NAMES

TAB = "tab"
MAX_TEXT = 300  # longest text value (seed lists, blend weights, model names)
MAX_QUERY = 2000  # longest query string accepted


@dataclass(frozen=True)
class Field:
    """One setting in a link: its type, bounds or choices."""

    name: str
    kind: type  # str, int, float or bool
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None

    def parse(self, raw: str) -> Any:
        """The value of `raw` (text from a URL), or `UserInputError`."""
        if len(raw) > MAX_TEXT:
            raise UserInputError(f"link parameter {self.name} is too long")
        if self.kind is bool:
            return _bool(self.name, raw)
        if self.kind in (int, float):
            return self._number(raw)
        if self.choices is not None and raw not in self.choices:
            raise UserInputError(f"link parameter {self.name} must be one of {list(self.choices)}")
        return raw

    def _number(self, raw: str) -> int | float:
        try:
            value = float(raw)
        except ValueError:
            raise UserInputError(
                f"link parameter {self.name} must be a number, not {raw!r}"
            ) from None
        if not math.isfinite(value):
            raise UserInputError(f"link parameter {self.name} must be a finite number")
        if self.kind is int:
            if value != int(value):
                raise UserInputError(f"link parameter {self.name} must be a whole number")
            value = int(value)
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise UserInputError(
                f"link parameter {self.name} must be between {self.low:g} and {self.high:g}"
            )
        return value


def _bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UserInputError(f"link parameter {name} must be true or false, not {raw!r}")


PSI = Field("truncation_psi", float, 0.0, 2.0)
MODEL = Field("model", str)
NOISE_MODES = ("const", "random", "none")  # StyleGAN2's (gan.generate.faces.NOISE_MODES)
TABS: dict[str, tuple[Field, ...]] = {
    "generate": (Field("seeds", str), PSI, MODEL),
    "interpolate": (
        Field("seeds", str),
        Field("frames", int, 2, 120),
        Field("mode", str, choices=("slerp", "lerp")),
        Field("loop", bool),
        PSI,
        Field("fps", int, 1, 60),
        MODEL,
    ),
    "style": (  # the settings only: images never travel in a link
        Field("steps", int, 1, 2000),
        Field("size", int, 64, 2048),
        Field("content_weight", float, 0, 1e9),
        Field("style_weight", float, 0, 1e9),
        Field("tv_weight", float, 0, 1e9),
        Field("optimizer", str, choices=("lbfgs", "adam")),
        Field("init", str, choices=("content_color", "content", "noise", "coarse", "fast")),
        Field("preserve_colors", str, choices=("none", "luminance", "match")),
        Field("style_blend", str),
        Field("example", str, choices=STYLE_EXAMPLE_NAMES),  # a built-in pair: rerun it
    ),
    "project": (  # a photo never travels: a link reruns only a built-in example
        Field("example", str, choices=PROJECT_EXAMPLE_NAMES),
        Field("crop_x", float, 0, 1),
        Field("crop_y", float, 0, 1),
        Field("crop_size", float, 0.05, 1),
        Field("steps", int, 1, 5000),  # gan.project.MAX_STEPS (which imports torch)
        Field("w_plus", bool),
        Field("preview_every", int, 1, 200),
        MODEL,
    ),
    "finetune": (  # the settings only: images never travel in a link
        MODEL,
        Field("steps", int, 0, 10**6),  # 0: the model's default
        Field("batch_size", int, 0, 512),
        Field("crops_per_image", int, 1, 16),
        Field("lr_g", float, 1e-8, 0.05),
        Field("lr_d", float, 1e-8, 0.05),
        Field("d_loss_threshold", float, 0, 10),
        Field("hflip", bool),
        Field("freeze_d", int, 0, 8),
        Field("ema_decay", float, 0, 0.9999),
        Field("d_warmup", int, 0, 10**6),
        Field("sample_every", int, 1, 10**6),
        Field("max_seconds", float, 1, 10**5),
        Field("kid", bool),
        Field("augment", str, choices=("ada", "diffaugment", "none")),
        Field("ada_target", float, 0, 1),
        Field("r1_gamma", float, 0, 1e6),
        Field("style_mixing_prob", float, 0, 1),
        Field("ema_kimg", float, 0, 1e6),
        Field("freezed", int, 0, 64),
        Field("ada_kimg", float, 1e-3, 1e6),
        Field("ema_rampup", float, 0, 1),
        Field("pl_weight", float, 0, 1e3),
        Field("pl_batch_shrink", int, 1, 64),
        Field("pl_decay", float, 0, 1),
        Field("g_reg_interval", int, 1, 1000),
    ),
    "lab": (
        Field("steps", int, 1, 20_000),
        Field("lr_g", float, 1e-6, 0.05),
        Field("lr_d", float, 1e-6, 0.05),
        Field("d_loss_threshold", float, 0, 10),
        Field("seed", int, 0, 2**31 - 1),
    ),
    "style_mixing": (
        Field("row_seeds", str),
        Field("column_seeds", str),
        Field("preset", str, choices=("coarse", "middle", "fine", "custom")),
        Field("layers", str),  # the custom ws, e.g. "0-3, 8"
        PSI,
        Field("noise_mode", str, choices=NOISE_MODES),
        Field("truncation_cutoff", int, 0, 18),
        Field("class_idx", int, 0, 100_000),
        MODEL,
    ),
    "edit": (  # a seed's latent only: pasted or uploaded latents do not travel in a link
        MODEL,
        Field("seed", int, 0, 2**32 - 1),
        PSI,
        Field("layers", str, choices=("coarse", "middle", "fine", "all")),
        *(Field(f"direction_{i}", float, -3.0, 3.0) for i in range(5)),
    ),
    "judge": (MODEL, Field("seeds", str)),  # the model's own faces; uploads stay out
}


def fields(tab: str) -> tuple[Field, ...]:
    if tab not in TABS:
        raise UserInputError(f"the link names an unknown tab {tab!r}; known: {list(TABS)}")
    return TABS[tab]


def encode(tab: str, values: Mapping[str, Any]) -> str:
    """The query string (no `?`) for `tab` with `values` (only the tab's fields, in order)."""
    pairs = [(TAB, tab)]
    for f in fields(tab):
        if f.name in values and values[f.name] is not None:
            value = values[f.name]
            pairs.append((f.name, str(value).lower() if isinstance(value, bool) else str(value)))
    return urlencode(pairs)


def decode(params: Mapping[str, str] | str) -> tuple[str, dict[str, Any]] | None:
    """(tab, {name: value}) from query parameters (a mapping or a query string); None when
    the URL holds no link. Every value is checked; unknown names are an error too (a typo
    must not silently run something else)."""
    if isinstance(params, str):
        if len(params) > MAX_QUERY:
            raise UserInputError("the link is too long")
        params = dict(parse_qsl(params.lstrip("?"), keep_blank_values=True))
    params = {k: v for k, v in params.items() if not k.startswith("__")}  # Gradio's own
    if TAB not in params:
        if params:
            raise UserInputError(f"the link has no {TAB}= parameter")
        return None
    tab = params[TAB]
    known = {f.name: f for f in fields(tab)}
    unknown = sorted(set(params) - set(known) - {TAB})
    if unknown:
        raise UserInputError(f"the {tab} link has unknown parameter(s): {', '.join(unknown)}")
    return tab, {name: known[name].parse(str(raw)) for name, raw in params.items() if name != TAB}


def copy_link_js(tab: str, names: list[str]) -> str:
    """Browser code for a "Copy link" button whose inputs are the components of `names`: it
    builds this page's URL with the values as query parameters, copies it to the clipboard
    (where the browser allows) and returns it (shown in a textbox)."""
    return f"""(...values) => {{
  const names = {json.dumps(names)};
  const p = new URLSearchParams();
  p.set({json.dumps(TAB)}, {json.dumps(tab)});
  names.forEach((n, i) => {{
    const v = values[i];
    if (v !== null && v !== undefined && v !== '') p.set(n, String(v));
  }});
  const url = window.location.origin + window.location.pathname + '?' + p.toString();
  try {{ navigator.clipboard.writeText(url); }} catch (e) {{}}
  return url;
}}"""
