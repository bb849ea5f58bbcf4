"""High resolution as an experiment: three small GANs, 16 to 64 px, the same wall time each.

On the lab's toy set made at 64 px, three runs share the networks of `gan.lab.growing`, the
non-saturating loss, Adam, the batches' seed and the sample latents; only the scheme differs:

- "dcgan": the plain way, G and D trained at 64 px from the first step;
- "progressive": Karras et al. 2018, 16 px first, then the 32 and 64 px blocks faded in (alpha
  from 0 to 1), G and D both (`PROGRESSIVE_SCHEDULE`, shares of the run's time budget, as
  ProGAN's phases are shares of its images shown);
- "msg": Karnewar & Wang 2020, G's 16, 32 and 64 px outputs all fed to D at once, no fading.

Each run has its own clock that counts only its training steps (the runs take turns, the one
furthest behind steps next, so a busy machine slows all three alike); at every `eval_every_s`
of its clock it is measured: KID at 64 px (a progressive run below 64 px is upsampled, which is
what it can make at that moment) and a grid of the fixed-seed samples.

KID features: the lab's fixed random-convolution features (`gan.lab.collapse.
RandomConvFeatures`, 512 numbers per image), not EfficientNet-Lite0: at 64 px toy shapes an
ImageNet network sees mostly upsampling blur, and the random features are cheap enough to score
three runs many times on a CPU. Values compare these runs with each other, nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import UserInputError
from core.events import Progress
from gan.finetune.kid import KID, kid_from_features
from gan.lab.collapse import RandomConvFeatures
from gan.lab.growing import (
    MAX_RES,
    SCALES,
    GrowingConfig,
    GrowingDiscriminator,
    GrowingGenerator,
    upsample,
)
from gan.lab.toy import toy_dataset
from gan.lab.train import sample_grid

log = logging.getLogger(__name__)

METHODS = ("dcgan", "progressive", "msg")
# (resolution, fading in?, share of the budget): ProGAN alternates a fade-in phase and a stable
# phase per resolution; 64 px gets the largest share, as the final resolution does in ProGAN.
PROGRESSIVE_SCHEDULE = ((16, False, 0.2), (32, True, 0.15), (32, False, 0.15), (64, True, 0.2))
PROGRESSIVE_SCHEDULE += ((64, False, 0.3),)
MAX_BUDGET_S = 600.0
MAX_EVALS = 40  # KID points per run


@dataclass
class HighresConfig:
    """One experiment: three runs of `budget_s` seconds of training each."""

    budget_s: float = 60.0  # training time of each run (measuring is not counted)
    eval_every_s: float = 10.0  # KID and samples at these points of each run's clock
    batch_size: int = 16
    nz: int = 32
    width: int = 8  # channels at 32 px (`GrowingConfig`)
    lr: float = 1e-3  # Adam as in ProGAN (lr 1e-3, betas (0, 0.99)), the same for all three
    beta1: float = 0.0
    minibatch_stddev: bool = True  # ProGAN's, in D of all three
    n_kid: int = 128  # generated images per KID
    n_real: int = 256  # toy images for KID's reference features
    n_samples: int = 8  # fixed-seed samples shown
    toy_images: int = 512
    seed: int = 0

    def checked(self) -> HighresConfig:
        """Validate, raising `UserInputError` with a message for the person."""
        if not 0 < float(self.budget_s) <= MAX_BUDGET_S:
            raise UserInputError(f"budget_s must be in (0, {MAX_BUDGET_S:.0f}] seconds")
        if not float(self.budget_s) / MAX_EVALS <= float(self.eval_every_s) <= self.budget_s:
            raise UserInputError(f"eval_every_s must give 1 to {MAX_EVALS} KID points a run")
        if not 0 < float(self.lr) <= 0.01 or not 0 <= float(self.beta1) < 1:
            raise UserInputError("lr must be in (0, 0.01] and beta1 in [0, 1)")
        limits = {"batch_size": (2, 64), "nz": (2, 256), "width": (2, 64), "n_kid": (8, 512)}
        limits |= {"n_real": (8, 2000), "n_samples": (2, 16), "toy_images": (8, 5000)}
        limits |= {"seed": (0, 2**31 - 1)}
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if int(value) != value or not low <= value <= high:
                raise UserInputError(f"{name} must be a whole number in [{low}, {high}]")
        return replace(self, **{n: int(getattr(self, n)) for n in limits})


# Presets for the 2-core CPU (budget x 3 runs, plus about 10 % for measuring).
PRESETS: dict[str, HighresConfig] = {
    "quick (3 x 60 s)": HighresConfig(),
    "longer (3 x 75 s)": HighresConfig(budget_s=75.0),  # within a visitor's 280 s job cap
    "tiny (3 x 1 s)": HighresConfig(  # for tests
        budget_s=1.0,
        eval_every_s=0.5,
        batch_size=4,
        width=4,
        n_kid=16,
        n_real=16,
        n_samples=4,
        toy_images=16,
    ),
}


def progressive_phase(fraction: float) -> tuple[int, float]:
    """(resolution, alpha) of a progressive run `fraction` of the way through its budget."""
    start = 0.0
    for res, fading, share in PROGRESSIVE_SCHEDULE:
        if fraction < start + share:
            return res, (fraction - start) / share if fading else 1.0
        start += share
    return MAX_RES, 1.0


def pyramid(images: torch.Tensor) -> dict[int, torch.Tensor]:
    """Images in [-1, 1] at 64 px -> {16, 32, 64: the images area-downsampled}."""
    return {r: F.adaptive_avg_pool2d(images, r) if r < MAX_RES else images for r in SCALES}


@dataclass
class Evaluation:
    """One point of a run's KID curve."""

    method: str
    seconds: float  # of training, on the run's own clock
    steps: int
    resolution: int
    alpha: float
    kid: KID


@dataclass
class HighresProgress(Progress):
    """`Progress` plus the run it is about; `evaluation` and `preview` (the samples grid) at
    its KID points; the last event of the experiment has `done` and the `verdict`."""

    method: str = ""
    evaluation: Evaluation | None = None
    verdict: Verdict | None = None


class HighresRun:
    """G, D and their optimisers for one method, with the run's own clock."""

    def __init__(self, method: str, config: HighresConfig, data: torch.Tensor, device) -> None:
        if method not in METHODS:
            raise UserInputError(f"method must be one of {METHODS}")
        self.method, self.config, self.device = method, config, torch.device(device)
        net = GrowingConfig(config.nz, config.width, config.minibatch_stddev)
        with torch.random.fork_rng(devices=[]):  # the same initial G in all three runs
            torch.manual_seed(config.seed)
            self.G = GrowingGenerator(net).to(self.device)
            self.D = GrowingDiscriminator(net, msg=method == "msg").to(self.device)
        betas = (config.beta1, 0.99)
        self.opt_g = torch.optim.Adam(self.G.parameters(), config.lr, betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), config.lr, betas)
        self.data = pyramid(data.to(self.device))
        self.gen = torch.Generator().manual_seed(config.seed + 1)  # batches and z
        self.seconds, self.steps = 0.0, 0

    def phase(self) -> tuple[int, float]:
        """(resolution, alpha) now: progressive runs follow the schedule, the others 64, 1."""
        if self.method != "progressive":
            return MAX_RES, 1.0
        return progressive_phase(self.seconds / self.config.budget_s)

    @property
    def finished(self) -> bool:
        return self.seconds >= self.config.budget_s

    def step(self) -> dict[str, float]:
        """One D step and one G step, timed on the run's clock; the losses."""
        started = time.perf_counter()
        idx = torch.randint(len(self.data[MAX_RES]), (self.config.batch_size,), generator=self.gen)
        z = torch.randn(self.config.batch_size, self.config.nz, generator=self.gen)
        res, alpha = self.phase()
        real = self._real(idx.to(self.device), res)
        z = z.to(self.device)
        loss_d = self._d_step(real, z, res, alpha)
        loss_g = F.softplus(-self._critic(self._fake(z, res, alpha), alpha)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.seconds += time.perf_counter() - started
        self.steps += 1
        return {"loss_d": loss_d, "loss_g": loss_g.item(), "resolution": res, "alpha": alpha}

    def _real(self, idx: torch.Tensor, res: int):
        if self.method == "msg":
            return [self.data[r][idx] for r in SCALES]
        return self.data[res][idx]

    def _fake(self, z: torch.Tensor, res: int, alpha: float):
        return self.G.multi_scale(z) if self.method == "msg" else self.G(z, res, alpha)

    def _critic(self, images, alpha: float) -> torch.Tensor:
        return self.D.multi_scale(images) if self.method == "msg" else self.D(images, alpha)

    def _d_step(self, real, z: torch.Tensor, res: int, alpha: float) -> float:
        """Phase 1: D on a real and a generated batch (the non-saturating loss)."""
        self.D.requires_grad_(True)
        with torch.no_grad():
            fake = self._fake(z, res, alpha)
        loss = F.softplus(-self._critic(real, alpha)).mean()
        loss = loss + F.softplus(self._critic(fake, alpha)).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        self.D.requires_grad_(False)  # phase 2 trains G only
        return loss.item()

    @torch.no_grad()
    def images(self, z: torch.Tensor) -> torch.Tensor:
        """G's images at 64 px for `z` (a progressive run below 64 px: upsampled)."""
        res, alpha = self.phase()
        if self.method == "msg":
            return self.G.multi_scale(z.to(self.device))[-1].cpu()
        return upsample(self.G(z.to(self.device), res, alpha), MAX_RES // res).cpu()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    return ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


class KIDMeter:
    """KID at 64 px against the toy set, its features computed once; fixed latents."""

    def __init__(self, config: HighresConfig, real: torch.Tensor) -> None:
        self.net = RandomConvFeatures()
        self.real = self._features(real[: config.n_real])
        g = torch.Generator().manual_seed(config.seed + 2)
        self.z = torch.randn(config.n_kid, config.nz, generator=g)
        self.z_samples = self.z[: config.n_samples]

    @torch.no_grad()
    def _features(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.net(chunk) for chunk in images.split(64)])

    def __call__(self, run: HighresRun) -> Evaluation:
        fake = torch.cat([run.images(chunk) for chunk in self.z.split(64)])
        kid = kid_from_features(self.real, self._features(fake), n_subsets=50)
        res, alpha = run.phase()
        return Evaluation(run.method, run.seconds, run.steps, res, alpha, kid)

    def samples(self, run: HighresRun) -> np.ndarray:
        """The fixed-seed samples at 64 px in a grid of two rows (four for more than 8)."""
        n = len(self.z_samples)
        columns = -(-n // 2) if n <= 8 else 4
        return sample_grid(to_uint8(run.images(self.z_samples)), columns=columns, scale=1)


@dataclass
class Verdict:
    """The lesson's claim at this size: do progressive growing and MSG-GAN end with a lower
    KID than the plain run in the same time? (`holds` per method; final KIDs by method.)"""

    final: dict[str, float] = field(default_factory=dict)
    holds: dict[str, bool] = field(default_factory=dict)


def verdict(evaluations: list[Evaluation]) -> Verdict:
    """Each run's last KID, and whether each growing scheme beat the plain run by more than
    the noise of the two estimates (their standard deviations added)."""
    last = {e.method: e for e in evaluations}
    result = Verdict(final={m: e.kid.mean for m, e in last.items()})
    plain = last.get("dcgan")
    for method in ("progressive", "msg"):
        if plain is not None and method in last:
            margin = last[method].kid.std + plain.kid.std
            result.holds[method] = last[method].kid.mean + margin < plain.kid.mean
    return result


def experiment(
    config: HighresConfig,
    images: np.ndarray | None = None,
    device: torch.device | str = "cpu",
    should_stop: Callable[[], bool] | None = None,
    pause: Callable[[], None] | None = None,
    methods: tuple[str, ...] = METHODS,
) -> Iterator[HighresProgress]:
    """Train the runs in turn (the one furthest behind on its clock steps next), yielding a
    `HighresProgress` a step; KID and samples at 0 s and every `eval_every_s`; the last event
    has `done`, `stopped` and the `verdict`. `pause()` before each step (the priority gate)."""
    config = config.checked()
    if images is None:
        images = toy_dataset(config.toy_images, MAX_RES, config.seed)
    if images.shape[1:] != (MAX_RES, MAX_RES, 3):
        raise UserInputError(f"the experiment trains on {MAX_RES} px images")
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    meter = KIDMeter(config, data)
    runs = [HighresRun(m, config, data, device) for m in methods]
    evaluations: list[Evaluation] = []
    next_eval: dict[str, float | None] = {r.method: 0.0 for r in runs}
    stopped = False
    while True:
        for run in runs:  # the first point (0 s), then whenever a run's clock passes one
            due = next_eval[run.method]
            if due is not None and (run.seconds >= due or run.finished or stopped):
                yield _evaluated(run, meter, evaluations)
                next_eval[run.method] = _next_point(run, config, stopped)
        active = [r for r in runs if not r.finished]
        if not active or stopped:
            break
        if pause is not None:
            pause()
        run = min(active, key=lambda r: r.seconds)
        yield _stepped(run, run.step())
        stopped = bool(should_stop and should_stop())
    log.info("high-res experiment: %s", {r.method: r.steps for r in runs})
    yield HighresProgress(done=True, stopped=stopped, verdict=verdict(evaluations))


def _next_point(run: HighresRun, config: HighresConfig, stopped: bool) -> float | None:
    """The clock time of the run's next KID point (None once it has finished or stopped)."""
    if run.finished or stopped:
        return None
    return min(run.seconds + config.eval_every_s, config.budget_s)


def _evaluated(run: HighresRun, meter: KIDMeter, evaluations: list[Evaluation]):
    evaluation = meter(run)
    evaluations.append(evaluation)
    event = HighresProgress(run.steps, 0, method=run.method, evaluation=evaluation)
    event.preview = meter.samples(run)
    event.metrics = {"kid": evaluation.kid.mean, "seconds": run.seconds}
    return event


def _stepped(run: HighresRun, losses: dict[str, float]) -> HighresProgress:
    event = HighresProgress(run.steps, 0, method=run.method)
    event.losses = losses
    event.metrics = {"seconds": run.seconds}
    return event
