"""The trainer: one loop for every model, generic over the networks, losses and visuals it declares.

Each step updates the generator side first (with the critics frozen), then the critics on the
detached translations of that same forward pass, as in the paper (§3.1). The run folder holds
everything needed to reproduce or continue it: ``config.toml`` (the resolved preset),
``checkpoints/step-*.pt``, ``log.csv`` and ``tensorboard/``, ``samples/step-*.png`` and, at the end,
``model.pt`` (weights and configuration only, for ``xgan translate`` and ``xgan sample``) and
``losses.png`` (the curves of ``log.csv``).
"""
from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from cartoonset.common.atomic import write_json, write_text
from cartoonset.common.progress import progress
from cartoonset.common.seeding import derive_seed

from . import checkpoint as ckpt
from .config import differences, to_toml
from .data import BatchStream, DomainArrays, fixed_samples, sizes_match, to_model_input, to_uint8
from .devices import Placement, autocast, barrier, place
from .grid import grid, save_png
from .models import Model, StepResult, build_model, set_requires_grad
from .networks import DOMAINS
from .runlog import RunLog, plot_log
from .teacher import Teacher, TeacherUnavailable, load_teacher

#: configuration keys a resumed run may change: extending a run is allowed, anything else is a new run
RESUMABLE_CHANGES = ("train.steps", "description", "preset")


class RunError(RuntimeError):
    """A run that cannot start as asked (one sentence saying what to do)."""


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Trainer:
    """Holds the model, its two optimisers and the step count; ``gen_update`` then ``dis_update``."""

    def __init__(self, config: Mapping, model: Model, placement: Placement | None = None, compile: bool = False,
                 channels_last: bool = True):
        self.config, self.model = config, model
        self.placement = placement or Placement(torch.device("cpu"))
        dev = self.placement.device
        # channels_last is faster on CUDA and, measured on this project's 2-core CPU, on oneDNN too
        self.channels_last = channels_last
        model.to(dev, memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        o = config["optim"]
        self.opt_gen = torch.optim.Adam(model.generator.parameters(), lr=o["lr"], betas=tuple(o["betas"]))
        self.opt_dis = (torch.optim.Adam(model.discriminator.parameters(), lr=o["lr_dis"], betas=tuple(o["betas"]))
                        if model.discriminator is not None else None)
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

    def gen_update(self, batch: Mapping[str, torch.Tensor]) -> StepResult:
        """One step of everything but the critics (encoders, decoders, c_dann through the GRL)."""
        set_requires_grad(self.model.discriminator, False)
        try:
            with autocast(self.placement):
                out = self.gen(batch)
            self.opt_gen.zero_grad(set_to_none=True)
            out.total.backward()
            self.opt_gen.step()
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

    def train_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        g = self.gen_update(batch)
        d = self.dis_update(batch, g.fakes)
        self.step += 1
        return {**g.logs, **(d.logs if d is not None else {})}

    # --- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and self.placement.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.placement.device)
        return {"config": dict(self.config), "step": self.step, "model_extra": self.model.extra_state(),
                "networks": {n: m.state_dict() for n, m in self.model.networks().items()},
                "optimizers": {"gen": self.opt_gen.state_dict(),
                               **({"dis": self.opt_dis.state_dict()} if self.opt_dis is not None else {})},
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
        self.step = int(state["step"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if "cuda" in state["rng"] and self.placement.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), self.placement.device)

    def save(self, path: str | Path, extra: Mapping | None = None) -> Path:
        return ckpt.save(path, {**self.state_dict(), **(extra or {})})

    def resume(self, path: str | Path) -> dict:
        state = ckpt.load(path, map_location=self.placement.device)
        self.load_state_dict(state, str(path))
        return state


def export_model(model: Model, config: Mapping, path: str | Path, step: int) -> Path:
    """The weights alone with their configuration: what ``xgan translate`` / ``sample`` load."""
    return ckpt.save(path, {"config": dict(config), "step": step, "model_extra": model.extra_state(),
                            "networks": {n: m.state_dict() for n, m in model.networks().items()}})


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Model, dict]:
    """A trained model (eval mode) from ``model.pt`` or any training checkpoint."""
    state = ckpt.load(path)
    try:
        model = build_model(state["config"], **state.get("model_extra", {}))
    except (KeyError, TypeError, ValueError) as e:
        raise ckpt.CheckpointError(f"checkpoint {path} holds a configuration this xgan cannot build ({e})") from None
    ckpt.load_networks(model.networks(), state["networks"], path)
    return model.to(device).eval(), state


def resolve_teacher(config: Mapping, data: DomainArrays, out: Path, say: Callable[[str], None]) -> Teacher | None:
    """The configured teacher, or None when ``loss.w_teach`` is 0; refuses to train without one otherwise."""
    spec = config["loss"].get("teacher", "")
    if config["loss"].get("w_teach", 0) <= 0:
        say("training without a teacher (loss.w_teach = 0)")
        return None
    try:  # a dlib table is cached by the faces' content in the user's cache folder, not the data folder
        teacher = load_teacher(spec, data.images["face"], data.keys.get("face"))
    except TeacherUnavailable as e:
        raise RunError(f"no teacher: {e}; set loss.w_teach = 0 (e.g. --preset no-teach) to train without one") from None
    say(f"teacher: {teacher.name} ({teacher.dim}-d)")
    return teacher


def _check_resume(saved: Mapping, config: Mapping, data: DomainArrays, world: int, source: Path) -> None:
    diff = [d for d in differences(saved["config"], config) if not d.startswith(RESUMABLE_CHANGES)]
    if diff:
        raise RunError(f"{source} was trained with another configuration ({'; '.join(diff[:3])}); "
                       "resume with the run's own config.toml or start a new --out")
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


def train(config: Mapping, train_data: DomainArrays, test_data: DomainArrays, out: str | Path, *,
          device: str = "auto", resume: bool = False, compile: bool = False, teacher: Teacher | None = None,
          show_progress: bool = True, tensorboard: bool = True, say: Callable[[str], None] | None = None) -> dict:
    """Train ``config``'s model on the two domains and write the run folder ``out``.

    ``resume`` continues from the newest checkpoint in ``out`` (or starts when there is none); a
    resumed run may only change ``train.steps``. Returns a summary (last logged values, paths,
    parameter counts).
    """
    placement = place(device)
    if placement.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest convolution once
    say = say or (_stderr if placement.main else (lambda _m: None))
    out = Path(out)
    t = config["train"]
    for key in ("batch", "steps", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "sample_count"):
        if t[key] < 1:
            raise RunError(f"train.{key} must be at least 1, got {t[key]}")
    if min(config["optim"]["lr"], config["optim"]["lr_dis"]) <= 0:
        raise RunError("optim.lr and optim.lr_dis must be positive")
    if train_data.size != config["network"]["image_size"]:
        raise RunError(f"the data is {train_data.size}x{train_data.size} but the preset expects network.image_size {config['network']['image_size']}")
    ck_dir = out / "checkpoints"
    existing = ckpt.list_steps(ck_dir)
    if existing and not resume:
        raise RunError(f"{out} already holds checkpoints; pass --resume to continue it or choose another --out")
    state = None
    if resume and existing:
        state = ckpt.load(existing[-1][1], map_location="cpu")
        _check_resume(state, config, train_data, placement.world, existing[-1][1])
        say(f"resuming {out} from step {state['step']}")
    elif resume:
        say(f"nothing to resume in {out}: starting a new run")
    if placement.main:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "config.toml", to_toml(config))

    if teacher is None:
        teacher = resolve_teacher(config, train_data, out, say)
    torch.manual_seed(derive_seed(t["seed"], "init"))
    model = build_model(config, teacher_dim=teacher.dim if teacher is not None else None)
    trainer = Trainer(config, model, placement, compile=compile)
    if state is not None:
        trainer.load_state_dict(state, str(existing[-1][1]))
    if teacher is not None:
        teacher.to(placement.device)
    counts = model.parameter_counts()
    if placement.main and state is None:
        write_json(out / "parameters.json", counts)
        say("parameters: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    stream = BatchStream(train_data, t["batch"], t["seed"], t["flip"], placement.rank, placement.world)
    samples = fixed_samples(test_data, t["sample_count"], t["seed"])
    names = list(model.loss_names)
    log = RunLog(out, names, trainer.step, tensorboard) if placement.main else None
    acc = torch.zeros(len(names), device=placement.device)
    n_acc = 0
    if state is not None and "log_accumulator" in state:
        acc += state["log_accumulator"]["sum"].to(placement.device)
        n_acc = int(state["log_accumulator"]["count"])
    per_step = 2 * t["batch"] * placement.world
    steps = t["steps"]
    bar = progress(total=t["steps"] * per_step, initial=trainer.step * per_step, desc=f"train {config.get('preset', '')}",
                   unit="img", unit_scale=True, disable=None if (show_progress and placement.main) else True)
    last_values: dict[str, float] = {}
    last_sample = None
    t_log, n_since = time.perf_counter(), 0

    def save_checkpoint() -> Path:
        extra = {"run": {"sizes": train_data.sizes(), "world": placement.world, "batch": t["batch"], "seed": t["seed"]},
                 "log_accumulator": {"sum": acc.cpu(), "count": n_acc}}
        path = trainer.save(ck_dir / ckpt.checkpoint_name(trainer.step), extra) if placement.main else None
        if placement.main:
            ckpt.prune(ck_dir, t["keep_checkpoints"])
        barrier(placement)
        return path

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pending = pool.submit(stream.batch_at, trainer.step) if trainer.step < steps else None
        while trainer.step < steps:
            host = pending.result()
            pending = pool.submit(stream.batch_at, trainer.step + 1) if trainer.step + 1 < steps else None
            batch = {d: to_model_input(host[d], placement.device, trainer.channels_last) for d in DOMAINS}
            if teacher is not None:
                batch["teacher"] = teacher.targets(host["face_index"], host["face_flip"], batch["face"])
            logs = trainer.train_step(batch)
            acc += torch.stack([logs[n] for n in names])
            n_acc += 1
            n_since += per_step
            bar.update(per_step)
            step = trainer.step
            if step % t["log_every"] == 0 or step == t["steps"]:
                values = dict(zip(names, (acc / n_acc).tolist()))  # the only host sync, once per log interval
                now = time.perf_counter()
                values["images_per_s"] = n_since / max(now - t_log, 1e-9)
                t_log, n_since = now, 0
                acc.zero_()
                n_acc = 0
                last_values = values
                if log is not None:
                    log.write(step, values)
                bar.set_postfix({k: f"{values[k]:.3f}" for k in names[:4]}, refresh=False)
            if placement.main and (step % t["sample_every"] == 0 or step == t["steps"]):
                last_sample = save_png(out / "samples" / f"step-{step:07d}.png", _sample_sheet(model, samples, placement.device))
            if step % t["checkpoint_every"] == 0 or step == t["steps"]:
                save_checkpoint()
        if trainer.step == t["steps"] and placement.main:
            export_model(model, config, out / "model.pt", trainer.step)
            if log is not None:
                plot_log(log.csv_path, out / "losses.png")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        if log is not None:
            log.close()
    latest = ckpt.list_steps(ck_dir)
    return {"step": trainer.step, "values": last_values, "parameters": counts,
            "checkpoint": str(latest[-1][1]) if latest else None,
            "samples": str(last_sample) if last_sample else None, "out": str(out)}

