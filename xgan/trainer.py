"""The trainer: one loop for every model, generic over the networks, losses and visuals it declares.

Each step updates the generator side first (with the critics frozen), then the critics on the
detached translations of that same forward pass, as in the paper (§3.1). The run folder holds
everything needed to reproduce or continue it: ``config.toml`` (the resolved preset),
``checkpoints/step-*.pt``, ``log.csv`` and ``tensorboard/``, ``samples/step-*.png`` and, at the end,
``model.pt`` (weights and configuration only, for ``xgan translate`` and ``xgan sample``) and
``losses.png`` (the curves of ``log.csv``). Every ``eval.every`` steps an evaluator (the benchmark's
metrics on a fixed test subset) adds ``test_*`` columns to ``log.csv`` and ``scores.png``; every
``train.diagnose_every`` steps the per-loss gradient norms on the shared layers and the batch-norm
domain gaps (:mod:`xgan.diagnostics`) are logged too. Each log row also holds ``train_seconds``, the time
spent in training steps so far (evaluations, samples and checkpoints left out), which the
checkpoints carry so that a resumed run goes on counting. With ``train.ema`` the test scores, samples,
``best.pt`` and ``model.pt`` use the generator's averaged weights (:class:`GeneratorEMA`).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Mapping, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from cartoonset.common.atomic import remove_stale_temps, write_json, write_text
from cartoonset.common.errors import ToolkitError
from cartoonset.common.locks import hold_folder
from cartoonset.common.progress import progress
from cartoonset.common.records import read_csv
from cartoonset.common.seeding import derive_seed

from . import checkpoint as ckpt
from . import diagnostics
from .config import SCHEDULES, ConfigError, differences, migrate, score_is_better, to_toml
from .data import BatchStream, DomainArrays, fixed_samples, sizes_match, to_model_input, to_uint8
from .devices import Placement, autocast, barrier, check_compile, from_main, mean_over_ranks, place
from .grid import grid, save_png
from .models import Model, StepResult, build_model, model_revision, set_requires_grad
from .models.base import CRITICS_FIRST, GENERATOR_FIRST
from .networks import DOMAINS
from .runlog import RunLog, plot_log, training_seconds
from .teacher import Teacher, TeacherUnavailable, load_teacher

#: configuration keys a resumed run may change: extending a run and what is measured or kept are
#: allowed, anything that changes the training itself makes a new run
RESUMABLE_CHANGES = ("train.steps", "description", "preset", "eval", "train.diagnose_every", "train.keep")


class Evaluator(Protocol):
    """Scores a model (in evaluation mode) on a fixed test subset: see
    :class:`xgan.benchmark.evaluate.TrainingEvaluator`. It may also have ``unavailable(model)`` (the
    names it cannot score, each with why: n/a in ``scores.png``) and ``warning(model)`` (a line said
    when the run starts, or None)."""

    def names(self, model: Model) -> tuple[str, ...]: ...

    def __call__(self, model: Model) -> dict[str, float]: ...


class RunError(ToolkitError, RuntimeError):
    """A run that cannot start as asked (one sentence saying what to do)."""


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class GeneratorEMA:
    """An exponential moving average of the generator side's weights (``train.ema``, the decay d).

    torch's :class:`~torch.optim.swa_utils.AveragedModel` over a ModuleDict of the model's networks
    that belong to ``model.generator`` (not over the generator itself, whose deep copy would also copy
    the critics it references). As in torch, the first update copies the weights, each later one is
    avg = d * avg + (1 - d) * w; with ``use_buffers`` the batch-norm running statistics are averaged
    like the weights. Only floating-point tensors are swapped in: integer counters stay the live ones.
    """

    def __init__(self, model: Model, decay: float):
        owned = {id(m) for m in model.generator.modules()}
        self.live = nn.ModuleDict({n: m for n, m in model.networks().items() if id(m) in owned})
        self.average = AveragedModel(self.live, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    def update(self) -> None:
        self.average.update_parameters(self.live)

    def state_dict(self) -> dict:
        return self.average.state_dict()

    def load_state_dict(self, state: Mapping, source: str) -> None:
        try:
            self.average.load_state_dict(state)
        except RuntimeError as e:
            raise ckpt.CheckpointError(f"{source}: averaged generator weights do not match this model ({e})") from None

    def _pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(live, averaged) floating-point tensors, in the order AveragedModel pairs them."""
        both = zip(itertools.chain(self.live.parameters(), self.live.buffers()),
                   itertools.chain(self.average.module.parameters(), self.average.module.buffers()), strict=True)
        return [(a, b) for a, b in both if a.is_floating_point()]

    def copy_to_live(self) -> None:
        with torch.no_grad():
            for live, avg in self._pairs():
                live.copy_(avg)

    @contextlib.contextmanager
    def swapped_in(self):
        """The averaged weights in the live model inside the block; the training weights, bit for bit, after."""
        saved = [live.detach().clone() for live, _ in self._pairs()]
        self.copy_to_live()
        try:
            yield
        finally:
            with torch.no_grad():
                for (live, _), keep in zip(self._pairs(), saved):
                    live.copy_(keep)


class Trainer:
    """Holds the model, its two optimisers and the step count; ``gen_update`` then ``dis_update``."""

    def __init__(self, config: Mapping, model: Model, placement: Placement | None = None, compile: bool = False,
                 channels_last: bool = True):
        self.config, self.model = config, model
        self.placement = placement or Placement(torch.device("cpu"))
        dev = self.placement.device
        if compile:
            check_compile(dev)  # before the model moves or the optimisers are built
        # channels_last is faster on CUDA and, measured on this project's 2-core CPU, on oneDNN too
        self.channels_last = channels_last
        model.to(dev, memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        decay = float(config["train"].get("ema", 0.0))  # the offline jobs' configurations have no train.ema
        self.ema = GeneratorEMA(model, decay) if decay > 0 else None  # of the model's networks, before any wrapper
        o = config["optim"]
        self.opt_gen = optimizer(model.generator.parameters(), o, o["lr"])
        self.opt_dis = optimizer(model.discriminator.parameters(), o, o["lr_dis"]) if model.discriminator is not None else None
        gen, dis = model.generator, model.discriminator
        if self.placement.distributed:
            ids = [dev.index] if dev.type == "cuda" else None
            gen = DDP(gen, device_ids=ids)
            dis = DDP(dis, device_ids=ids) if dis is not None else None
        if compile:
            gen = torch.compile(gen)
            dis = torch.compile(dis) if dis is not None else None
        self.gen, self.dis = gen, dis
        self.step = 0
        self.schedule = o.get("schedule", "constant")
        self.base_lr = {id(opt): [g["lr"] for g in opt.param_groups] for opt in self.optimizers()}

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt_gen] + ([self.opt_dis] if self.opt_dis is not None else [])

    def lr_factor(self, step: int) -> float:
        """The schedule's multiplier of the presets' learning rates at ``step`` (a pure function of
        the step and ``train.steps``, so resumed runs follow it exactly)."""
        return lr_factor(self.schedule, step, int(self.config["train"]["steps"]))

    def _apply_schedule(self) -> None:
        f = self.lr_factor(self.step)
        beta1 = onecycle(self.step, int(self.config["train"]["steps"]))[1] if self.schedule == "onecycle" else None
        for opt in self.optimizers():
            for g, base in zip(opt.param_groups, self.base_lr[id(opt)]):
                g["lr"] = base * f
                if beta1 is not None:
                    g["betas"] = (beta1, g["betas"][1])

    def gen_update(self, batch: Mapping[str, torch.Tensor], diagnose: bool = False) -> StepResult:
        """One step of everything but the critics (encoders, decoders, c_dann through the GRL);
        with ``diagnose``, the step's logs also hold the per-loss gradient norms on the shared
        layers and the batch-norm domain gaps."""
        set_requires_grad(self.model.discriminator, False)
        try:
            with diagnostics.bn_domain_gap(self.model, batch["face"].shape[0]) if diagnose else contextlib.nullcontext({}) as gaps:
                with autocast(self.placement):
                    out = self.gen(batch)
            if diagnose:
                out.logs.update(gaps)
                out.logs.update(diagnostics.gradient_norms(out.terms, diagnostics.shared_parameters(self.model)))
            self.opt_gen.zero_grad(set_to_none=True)
            out.total.backward()
            self.opt_gen.step()
            if self.ema is not None:
                self.ema.update()
        finally:
            set_requires_grad(self.model.discriminator, True)
        return out

    def dis_update(self, batch: Mapping[str, torch.Tensor], fakes: Mapping[str, torch.Tensor]) -> StepResult | None:
        """One step of the critics on real images and the generator step's detached translations."""
        if self.dis is None:
            return None
        with autocast(self.placement):
            out = self.dis(batch, {k: v.detach() for k, v in fakes.items()})
        self.opt_dis.zero_grad(set_to_none=True)
        out.total.backward()
        self.opt_dis.step()
        return out

    def averaged_weights(self) -> contextlib.AbstractContextManager:
        """The generator's averaged weights in the model inside a ``with`` block (its own without ``train.ema``)."""
        return self.ema.swapped_in() if self.ema is not None else contextlib.nullcontext()

    def train_step(self, batch: Mapping[str, torch.Tensor], diagnose: bool = False) -> dict[str, torch.Tensor]:
        """One step of both players, in the model's ``update_order``."""
        self._apply_schedule()
        self.model.at_step(self.step)
        if getattr(self.model, "update_order", GENERATOR_FIRST) == CRITICS_FIRST and self.dis is not None:
            with torch.no_grad(), autocast(self.placement):
                fakes = self.model.critic_fakes(batch)
            d = self.dis_update(batch, fakes)
            g = self.gen_update(batch, diagnose)
        else:
            g = self.gen_update(batch, diagnose)
            d = self.dis_update(batch, g.fakes)
        self.step += 1
        return {**g.logs, **(d.logs if d is not None else {})}

    # --- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and self.placement.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.placement.device)
        return {"config": dict(self.config), "step": self.step, "model_extra": self.model.extra_state(),
                "model_revision": model_revision(self.config) if isinstance(self.model, Model) else 1,
                "networks": {n: m.state_dict() for n, m in self.model.networks().items()},
                "optimizers": {"gen": self.opt_gen.state_dict(),
                               **({"dis": self.opt_dis.state_dict()} if self.opt_dis is not None else {})},
                **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
                "rng": rng}

    def load_state_dict(self, state: Mapping, source: str = "checkpoint") -> None:
        ckpt.load_networks(self.model.networks(), state["networks"], source)
        opts = state.get("optimizers", {})
        if "gen" not in opts or (self.opt_dis is not None) != ("dis" in opts):
            raise ckpt.CheckpointError(f"{source} has no optimiser state for this model; it cannot be resumed")
        try:
            self.opt_gen.load_state_dict(opts["gen"])
            if self.opt_dis is not None:
                self.opt_dis.load_state_dict(opts["dis"])
        except (ValueError, KeyError) as e:
            raise ckpt.CheckpointError(f"{source}: optimiser state does not match this model ({e})") from None
        if self.ema is not None:
            if "ema" not in state:
                raise ckpt.CheckpointError(f"{source} holds no averaged generator weights; resume it without train.ema")
            self.ema.load_state_dict(state["ema"], source)
        self.step = int(state["step"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if "cuda" in state["rng"] and self.placement.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), self.placement.device)

    def save(self, path: str | Path, extra: Mapping | None = None) -> Path:
        return ckpt.save(path, {**self.state_dict(), **(extra or {})})


def optimizer(params, optim: Mapping, lr: float) -> torch.optim.Optimizer:
    """Adam (the paper), or AdamW when ``optim.weight_decay`` > 0 (decay decoupled from the gradient)."""
    wd = float(optim.get("weight_decay", 0.0))
    if wd > 0:
        return torch.optim.AdamW(params, lr=lr, betas=tuple(optim["betas"]), weight_decay=wd)
    return torch.optim.Adam(params, lr=lr, betas=tuple(optim["betas"]))


#: the one-cycle policy's shape (Smith & Topin 2019): torch's OneCycleLR defaults, but 15% warm-up (not 30%)
ONECYCLE = {"warmup": 0.15, "div": 25.0, "final_div": 1e4, "momentum": (0.85, 0.95)}


def onecycle(step: int, steps: int) -> tuple[float, float]:
    """(learning-rate factor, Adam's beta1) at ``step`` of the one-cycle policy: the rate rises on a
    half cosine from 1/25 to 1 over the first 15% of ``steps`` while beta1 falls from 0.95 to 0.85,
    then both return, the rate to 1/(25 * 1e4). The numbers of ``torch.optim.lr_scheduler.OneCycleLR``
    with ``pct_start=0.15``, as a pure function of the step (so a resumed run follows it exactly)."""
    def cos(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    low, high = ONECYCLE["momentum"]
    start, peak = 1.0 / ONECYCLE["div"], 1.0
    warm_end = float(ONECYCLE["warmup"] * steps) - 1
    if step <= warm_end:
        pct = step / warm_end
        return cos(start, peak, pct), cos(high, low, pct)
    pct = (step - warm_end) / (steps - 1 - warm_end)
    return cos(peak, start / ONECYCLE["final_div"], pct), cos(low, high, pct)


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """``constant`` (the paper), ``linear`` (constant, then linearly to 0 over the second half,
    as CycleGAN trains), ``cosine`` (half a cosine from 1 to 0) or ``onecycle`` (:func:`onecycle`)."""
    if schedule == "constant":
        return 1.0
    if schedule == "onecycle":
        return onecycle(step, steps)[0]
    t = min(max(step / max(steps, 1), 0.0), 1.0)
    if schedule == "linear":
        return 1.0 if t < 0.5 else 2.0 * (1.0 - t)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"optim.schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")




def export_model(model: Model, config: Mapping, path: str | Path, step: int) -> Path:
    """The weights alone with their configuration: what ``xgan translate`` / ``sample`` load."""
    return ckpt.save(path, {"config": dict(config), "step": step, "model_extra": model.extra_state(),
                            "model_revision": model_revision(config),
                            "networks": {n: m.state_dict() for n, m in model.networks().items()}})


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Model, dict]:
    """A trained model (eval mode) from ``model.pt`` or any training checkpoint (with its averaged
    generator weights where it holds them, as ``model.pt`` would)."""
    state = ckpt.load(path)
    try:  # an older configuration read as this xgan reads it: the networks it was trained with
        config = migrate(state["config"], f"checkpoint {path}")
        model = build_model(config, **state.get("model_extra", {}))
    except (KeyError, TypeError, ValueError) as e:
        raise ckpt.CheckpointError(f"checkpoint {path} holds a configuration this xgan cannot build ({e})") from None
    ckpt.load_networks(model.networks(), state["networks"], path)
    if "ema" in state:
        ema = GeneratorEMA(model, float(config["train"]["ema"]))
        ema.load_state_dict(state["ema"], str(path))
        ema.copy_to_live()
    return model.to(device).eval(), state


def resolve_teacher(config: Mapping, data: DomainArrays, out: Path, say: Callable[[str], None]) -> Teacher | None:
    """The configured teacher, or None when ``loss.w_teach`` is 0; refuses to train without one otherwise."""
    loss = config.get("loss", {}) if config.get("model", "xgan") == "xgan" else {}  # XGAN's L_teach alone has one
    spec = loss.get("teacher", "")
    if loss.get("w_teach", 0) <= 0:
        say("training without a teacher (loss.w_teach = 0)")
        return None
    try:  # a dlib table is cached by the faces' content in the user's cache folder, not the data folder
        teacher = load_teacher(spec, data.images["face"], data.keys.get("face"))
    except TeacherUnavailable as e:
        raise RunError(f"no teacher: {e}; set loss.w_teach = 0 (e.g. --preset no-teach) to train without one") from None
    say(f"teacher: {teacher.name} ({teacher.dim}-d)")
    return teacher


def trained_differently(saved_config: Mapping, config: Mapping) -> list[str]:
    """The settings (``key: old -> new``) on which a saved run's configuration and ``config`` differ,
    beyond those a run may change when resumed; the saved one read by :func:`~xgan.config.migrate`, as
    a configuration this xgan cannot read differs on everything."""
    try:
        saved_config = migrate(saved_config)
    except ConfigError as e:
        return [f"(the saved configuration cannot be read: {e})"]
    return [d for d in differences(saved_config, config) if not d.startswith(RESUMABLE_CHANGES)]


def _check_resume(saved: Mapping, config: Mapping, data: DomainArrays, world: int, source: Path) -> None:
    diff = trained_differently(saved["config"], config)
    if diff:
        raise RunError(f"{source} was trained with another configuration ({'; '.join(diff[:3])}); "
                       "resume with the run's own config.toml or start a new --out")
    old, now = int(saved.get("model_revision", 1)), model_revision(config)
    if old != now:
        raise RunError(f"{source} was trained by revision {old} of {config['model']}'s training step and this xgan "
                       f"runs revision {now}, which learns differently; start a new --out")
    run = saved.get("run", {})
    if "sizes" in run and not sizes_match(run["sizes"], data):
        raise RunError(f"{source} was trained on {run['sizes']} images but the data now has {data.sizes()}; "
                       "the data order cannot be restored")
    if run.get("world", world) != world:
        raise RunError(f"{source} was trained with {run['world']} processes; resume it with the same number")




def _sample_sheet(model: Model, samples: Mapping[str, np.ndarray], device: torch.device) -> np.ndarray:
    was = model.training
    model.eval()
    try:
        vis = model.visuals({d: to_model_input(samples[d], device) for d in DOMAINS})
    finally:
        model.train(was)
    cols = [to_uint8(vis[n]) for n in model.visual_names]
    half = len(cols) // 2
    return grid([[c[i] for c in cols] for i in range(len(cols[0]))], gap_after=(half - 1,))


def _synchronize(device: torch.device) -> None:
    """Wait for the kernels queued on ``device`` (a no-op on the CPU, where they ran already)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _evaluate(model: Model, evaluator: Evaluator) -> dict[str, float]:
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            return {f"test_{k}": float(v) for k, v in evaluator(model).items()}
    finally:
        model.train(was)


def check_out(out: str | Path, resume: bool) -> None:
    """Refuse a new run over one that ``out`` holds (callers check before any costly set-up)."""
    if not resume and ckpt.list_steps(Path(out) / "checkpoints"):
        raise RunError(f"{out} already holds checkpoints; pass --resume to continue it or choose another --out")


def _starting_state(out: Path, resume: bool, config: Mapping, data: DomainArrays, world: int,
                    say: Callable[[str], None]) -> tuple[dict | None, Path | None]:
    """The checkpoint a run continues from (the newest intact one), or ``(None, None)`` for a new run."""
    check_out(out, resume)
    ck_dir = out / "checkpoints"
    existing = ckpt.list_steps(ck_dir)
    if not resume:
        return None, None
    if not existing:
        say(f"nothing to resume in {out}: starting a new run")
        return None, None
    try:
        state, path = ckpt.load_newest_intact(ck_dir, say, usable=_resumable)
    except ckpt.CheckpointError as e:
        raise RunError(str(e)) from None
    _check_resume(state, config, data, world, path)
    say(f"resuming {out} from step {state['step']} ({path.name})")
    return state, path


def _resumable(state: Mapping, path: Path) -> None:
    """Refuse, as damaged, a checkpoint a run cannot continue from: one without the optimiser and
    random states a training step saves (an exported ``model.pt`` copied among the checkpoints)."""
    opts, rng = state.get("optimizers"), state.get("rng")
    if not (isinstance(opts, Mapping) and "gen" in opts and isinstance(rng, Mapping) and "torch" in rng):
        raise ckpt.CheckpointError(f"checkpoint {path} holds no optimiser state (an exported model, not a "
                                   "training checkpoint) and cannot be resumed")


class _Best:
    """``best.pt``: the exported model at the step with the best ``eval.best`` score so far."""

    def __init__(self, out: Path, config: Mapping, start_step: int):
        self.out, self.metric = out, config["eval"]["best"]
        self.on = config["train"]["keep"] == "best"
        self.value, self.step = None, None
        record = out / "best.json"
        if self.on and record.exists():
            try:
                saved = json.loads(record.read_text(encoding="utf-8"))
                if not isinstance(saved, dict):
                    raise TypeError(f"expected a JSON object, found {type(saved).__name__}")
                if saved.get("metric") == self.metric and int(saved.get("step", 0)) <= start_step:
                    self.value, self.step = float(saved["value"]), int(saved["step"])
            except (ValueError, TypeError, KeyError) as e:  # JSON, UTF-8 and number errors are ValueErrors
                why = f"no {e}" if isinstance(e, KeyError) else str(e)
                raise RunError(f"{record}: damaged ({why}); delete it to resume (best.pt is then replaced "
                               "at the next evaluation)") from None

    def offer(self, model: Model, config: Mapping, step: int, scores: Mapping[str, float]) -> None:
        value = scores.get(f"test_{self.metric}")
        if not self.on or value is None or not math.isfinite(value):
            return
        if self.value is None or score_is_better(self.metric, value, self.value):
            self.value, self.step = value, step
            export_model(model, config, self.out / "best.pt", step)
            write_json(self.out / "best.json", {"metric": self.metric, "value": value, "step": step,
                                                "scores": dict(scores)})


def train(config: Mapping, train_data: DomainArrays, test_data: DomainArrays, out: str | Path, *,
          device: str = "auto", resume: bool = False, compile: bool = False, teacher: Teacher | None = None,
          evaluator: Evaluator | None = None, show_progress: bool = True, tensorboard: bool = True,
          say: Callable[[str], None] | None = None) -> dict:
    """Train ``config``'s model on the two domains and write the run folder ``out``.

    ``config`` comes from :func:`xgan.config.resolve`, which validates it. ``resume`` continues
    from the newest intact checkpoint in ``out`` (or starts when there is none); a resumed run may
    only change ``train.steps`` and what is measured. ``evaluator`` scores the model every
    ``eval.every`` steps (none: no test scores). Returns a summary (last logged values, paths,
    parameter counts).
    """
    run = _Run(config, train_data, test_data, Path(out), device, resume, compile, teacher, evaluator, tensorboard, say)
    try:
        run.loop(show_progress)
    finally:
        run.close()
    return run.summary()


def hold_run(out: str | Path):
    """Hold the run folder ``out`` (created if missing) for this process: a second ``xgan train`` of
    it is refused with one line before it writes anything (see :mod:`cartoonset.common.locks`)."""
    Path(out).mkdir(parents=True, exist_ok=True)
    return hold_folder(out, "xgan-train", "xgan train", "or train into another --out")


class _Run:
    """One call of :func:`train`: the set-up in ``__init__``, the step loop in ``loop``."""

    def __init__(self, config, train_data, test_data, out: Path, device, resume, compile, teacher, evaluator,
                 tensorboard, say):
        self.placement = placement = place(device)
        if placement.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest convolution once
        self.say = say = say or (_stderr if placement.main else (lambda _m: None))
        self.config, self.out, self.train_data = config, out, train_data
        self.t = config["train"]
        if train_data.size != config["network"]["image_size"]:
            raise RunError(f"the data is {train_data.size}x{train_data.size} but the preset expects "
                           f"network.image_size {config['network']['image_size']}")
        self.ck_dir = out / "checkpoints"
        self.held = contextlib.ExitStack()  # the run folder's lock, released by close()
        if placement.main:
            self.held.enter_context(hold_run(out))
        try:
            self._set_up(config, train_data, test_data, out, resume, compile, teacher, evaluator, tensorboard)
        except BaseException:
            self.held.close()
            raise

    def _set_up(self, config, train_data, test_data, out: Path, resume, compile, teacher, evaluator,
                tensorboard) -> None:
        placement, say, t, ev = self.placement, self.say, self.t, self.config["eval"]
        if placement.main:
            remove_stale_temps(self.ck_dir)  # what a save killed mid-write left; the writer is dead (pid check)
            remove_stale_temps(out)
        state, state_path = _starting_state(out, resume, config, train_data, placement.world, say)
        if placement.main:
            out.mkdir(parents=True, exist_ok=True)
            write_text(out / "config.toml", to_toml(config))

        self.teacher = teacher if teacher is not None else resolve_teacher(config, train_data, out, say)
        torch.manual_seed(derive_seed(t["seed"], "init"))
        self.model = model = build_model(config, teacher_dim=self.teacher.dim if self.teacher is not None else None)
        self.trainer = trainer = Trainer(config, model, placement, compile=compile)
        if state is not None:
            try:
                trainer.load_state_dict(state, str(state_path))
            except ckpt.CheckpointError as e:
                raise RunError(f"{e}; start a new --out or delete {state_path} to resume from an older checkpoint") from None
        if self.teacher is not None:
            self.teacher.to(placement.device)
        self.counts = model.parameter_counts()
        if placement.main and state is None:
            write_json(out / "parameters.json", self.counts)
            say("parameters: " + ", ".join(f"{k} {v:,}" for k, v in self.counts.items()))
        if 0 < ev["every"] <= t["steps"] and evaluator is None:
            say("no test-split scores during this run: no evaluator was given (xgan train builds one from the ruler)")
        self.evaluator = evaluator
        # rank 0's: it alone scores (xgan train gives it alone an evaluator); the others meet it at the barrier after
        scored = ev["every"] if evaluator is not None and ev["every"] <= t["steps"] else 0
        self.eval_every = from_main(placement, scored)

        self.stream = BatchStream(train_data, t["batch"], t["seed"], t["flip"], placement.rank, placement.world)
        self.samples = fixed_samples(test_data, t["sample_count"], t["seed"])
        self.names = list(model.loss_names)
        self.diag_names = list(diagnostics.diagnostic_names(model)) if t["diagnose_every"] > 0 else []
        scores = self.eval_every > 0 and evaluator is not None  # on rank 0
        self.test_names = [f"test_{k}" for k in evaluator.names(model)] if scores else []
        unavailable = getattr(evaluator, "unavailable", None) if scores else None
        self.unavailable = {f"test_{k}": why for k, why in unavailable(model).items()} if unavailable else {}
        warning = getattr(evaluator, "warning", None) if scores else None
        if warning is not None and (line := warning(model)):
            say(line)  # a test split too small for some scores: said now, not found as NaN after the run
        self.log = (RunLog(out, self.names + ["lr"] + self.diag_names + self.test_names, trainer.step, tensorboard)
                    if placement.main else None)
        if self.log is not None and state is None:
            self.log.config(config, to_toml(config))
        self.best = _Best(out, config, trainer.step) if placement.main else None
        self.seconds = self._starting_seconds(state)
        self.acc = torch.zeros(len(self.names), device=placement.device)
        self.n_acc = 0
        if state is not None and "log_accumulator" in state:
            self.acc += state["log_accumulator"]["sum"].to(placement.device)
            self.n_acc = int(state["log_accumulator"]["count"])
        self.last_values: dict[str, float] = {}
        self.last_sample = None

    def _starting_seconds(self, state: Mapping | None) -> float:
        """The training seconds before this invocation: the checkpoint's count, or for a checkpoint
        written before the count existed, the log's throughput up to its step (the log's rows without
        ``train_seconds`` say that this part of the figure is derived)."""
        if state is None:
            return 0.0
        if "train_seconds" in state:
            return float(state["train_seconds"])
        log = self.out / "log.csv"
        if not (self.placement.main and log.is_file()):
            return 0.0
        seconds, _ = training_seconds(read_csv(log), self.t["batch"], self.placement.world)
        before = [s for s in seconds if s <= self.trainer.step]
        return seconds[max(before)] if before else 0.0

    def loop(self, show_progress: bool) -> None:
        t, trainer, placement, steps = self.t, self.trainer, self.placement, self.t["steps"]
        per_step = 2 * t["batch"] * placement.world
        self.bar = progress(total=steps, initial=trainer.step, desc=f"train {self.config.get('preset', '')}",
                            unit="step", disable=None if (show_progress and placement.main) else True)
        t_log, n_since = time.perf_counter(), 0
        self.pool = ThreadPoolExecutor(max_workers=1)
        pending = self.pool.submit(self.stream.batch_at, trainer.step) if trainer.step < steps else None
        while trainer.step < steps:
            t_step = time.perf_counter()  # this step's training time: up to the evaluation, samples, checkpoint
            host = pending.result()
            pending = self.pool.submit(self.stream.batch_at, trainer.step + 1) if trainer.step + 1 < steps else None
            batch = {d: to_model_input(host[d], placement.device, trainer.channels_last) for d in DOMAINS}
            if self.teacher is not None:
                batch["teacher"] = self.teacher.targets(host["face_index"], host["face_flip"], batch["face"])
            diagnose = t["diagnose_every"] > 0 and (trainer.step + 1) % t["diagnose_every"] == 0
            logs = trainer.train_step(batch, diagnose)
            self.acc += torch.stack([logs[n] for n in self.names])
            self.n_acc += 1
            n_since += per_step
            self.bar.update(1)
            step = trainer.step
            values = {k: float(logs[k]) for k in self.diag_names if k in logs} if diagnose else {}
            evaluate = self.eval_every > 0 and (step % self.eval_every == 0 or (step == steps and steps > self.eval_every))
            log_row = evaluate or bool(values) or step % t["log_every"] == 0 or step == steps
            means = self._loss_means(step) if log_row else []  # before the scores: a diverged model is not scored
            sample = placement.main and (step % t["sample_every"] == 0 or step == steps)
            checkpoint = step % t["checkpoint_every"] == 0 or step == steps
            if sample or checkpoint:  # their host syncs would otherwise wait for this step's queued kernels
                _synchronize(placement.device)
            self.seconds += time.perf_counter() - t_step
            if evaluate:
                if placement.main:
                    with trainer.averaged_weights():
                        values.update(_evaluate(self.model, self.evaluator))
                        self.best.offer(self.model, self.config, step, values)
                barrier(placement)
            if log_row:
                now = time.perf_counter()
                values.update(zip(self.names, means))
                values["images_per_s"] = n_since / max(now - t_log, 1e-9)
                values["train_seconds"] = self.seconds
                values["lr"] = trainer.opt_gen.param_groups[0]["lr"]
                t_log, n_since = now, 0
                self.acc.zero_()
                self.n_acc = 0
                self.last_values = values
                if self.log is not None:
                    self.log.write(step, values)
                self.bar.set_postfix_str(f"{values['images_per_s']:.0f} img/s, "
                                         + ", ".join(f"{k} {values[k]:.3f}" for k in self.names[:3]), refresh=False)
            if sample:
                with trainer.averaged_weights():
                    sheet = _sample_sheet(self.model, self.samples, placement.device)
                self.last_sample = save_png(self.out / "samples" / f"step-{step:07d}.png", sheet)
                if self.log is not None:
                    self.log.image("samples", sheet, step)
            if checkpoint:
                self.save_checkpoint()
        if trainer.step == steps and placement.main:
            self.finish()

    def _loss_means(self, step: int) -> list[float]:
        """Each loss's mean since the last log row: the only host sync of a row, and where a run whose
        loss is no longer finite stops, before anything of it is logged, scored or saved."""
        means = mean_over_ranks(self.placement, self.acc, self.n_acc).tolist()  # of the global batch under DDP
        bad = [(n, v) for n, v in zip(self.names, means) if not math.isfinite(v)]
        if bad:
            terms = ", ".join(n for n, _ in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise self._diverged(f"the loss ({terms}) became {bad[0][1]} at step {step}")
        return means

    def _check_finite(self) -> None:
        """Right before a checkpoint: the losses since the last log row and every weight (the averaged
        ones too) are finite, so a blow-up between rows or in the last update is never saved. One host
        sync, at checkpoints only."""
        weights = [v for m in self.model.networks().values() for v in m.state_dict().values()]
        if self.trainer.ema is not None:
            weights += list(self.trainer.ema.state_dict().values())
        dev = self.acc.device
        flags = torch.stack([torch.isfinite(self.acc).all()]
                            + [torch.isfinite(v).all().to(dev) for v in weights if v.is_floating_point()]).tolist()
        if not all(flags):
            what = "loss" if not flags[0] else "weights"
            raise self._diverged(f"the {what} became non-finite by step {self.trainer.step}")

    def _diverged(self, what: str) -> RunError:
        """The one line of a run stopped because ``what`` is no longer finite, with the usual cause
        and the checkpoint to go back to (nothing after it was saved)."""
        saved = ckpt.list_steps(self.ck_dir)
        last = f"the last good checkpoint is {saved[-1][1].name}" if saved else "no checkpoint was written before it"
        return RunError(f"{what} (optim.lr too high?); {last}")

    def save_checkpoint(self) -> Path | None:
        t, placement = self.t, self.placement
        self._check_finite()
        extra = {"run": {"sizes": self.train_data.sizes(), "world": placement.world, "batch": t["batch"], "seed": t["seed"]},
                 "log_accumulator": {"sum": self.acc.cpu(), "count": self.n_acc}, "train_seconds": self.seconds}
        path = self.trainer.save(self.ck_dir / ckpt.checkpoint_name(self.trainer.step), extra) if placement.main else None
        if placement.main:
            ckpt.prune(self.ck_dir, t["keep_checkpoints"])
        barrier(placement)
        return path

    def finish(self) -> None:
        """The end of a complete run: model.pt, the curves, the hyper-parameters beside the scores."""
        with self.trainer.averaged_weights():
            export_model(self.model, self.config, self.out / "model.pt", self.trainer.step)
        if self.log is not None:
            self.log.hparams(self.config, {k: v for k, v in self.last_values.items() if k.startswith("test_")})
            plot_log(self.log.csv_path, self.out / "losses.png")
            if self.test_names:
                from .benchmark.curves import learning_curves

                learning_curves({self.config.get("preset", "run"): [self.out]}, self.out / "scores.png",
                                unavailable=self.unavailable)

    def close(self) -> None:
        if getattr(self, "pool", None) is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if getattr(self, "bar", None) is not None:
            self.bar.close()
        if getattr(self, "log", None) is not None:
            self.log.close()
        self.held.close()

    def summary(self) -> dict:
        latest = ckpt.list_steps(self.ck_dir)
        best = self.best
        return {"step": self.trainer.step, "values": self.last_values, "parameters": self.counts,
                "checkpoint": str(latest[-1][1]) if latest else None,
                "samples": str(self.last_sample) if self.last_sample else None, "out": str(self.out),
                "best": {"step": best.step, "metric": best.metric, "value": best.value} if best and best.step else None}
