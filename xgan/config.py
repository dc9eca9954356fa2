"""Training presets: every weight, width and schedule of a run lives in TOML files.

A configuration has the sections every model reads (``[network]``'s widths, ``[optim]``, ``[train]``,
``[eval]``: :data:`COMMON`, defined by the root preset ``paper.toml``), the ``model`` it trains, and
that model's own table, which the model declares next to its code (``SETTINGS`` in
``xgan/models/<name>.py``: keys, defaults, checks): XGAN's is ``[loss]``, CycleGAN's ``[cyclegan]``,
and so on. No configuration carries another model's keys.

A preset is either a root (no ``base``) or names a ``base`` and overrides some of its keys. Several
presets can be stacked (``["cpu-small", "no-sem"]``): each later one applies only the keys it sets
itself, so an ablation runs at any width. Every key is checked on load, so a typo fails with the key's
name instead of being ignored. A preset may carry tables of models other than the one it chooses: they
are checked, and apply only to runs of their model. A preset that does not choose a model (a width
preset, such as cpu-small) may so carry a model's table: it applies on top of the values of the preset
that chooses the model, so ``["cpu-small", "cyclegan"]`` builds CycleGAN at cpu-small's cost while
``["paper", "cyclegan"]`` keeps the paper's networks; presets stacked later and ``--set`` still come
after it. ``--set`` names only keys of the run's own configuration.

The resolved configuration is written next to the checkpoints as a preset that reproduces the run.
Configurations written by older versions (a run folder's config.toml, the one inside a checkpoint) are
read through :func:`migrate`, the one place that knows their older shapes.
"""
from __future__ import annotations

import copy
import difflib
import functools
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from cartoonset.common.errors import InputError
from cartoonset.common.tomlio import NESTED_TOO_DEEPLY, TOMLDecodeError, dumps, loads

#: Keys that describe a preset rather than configure a run.
META_KEYS = ("description", "base")
#: learning-rate schedules (``optim.schedule``)
SCHEDULES = ("constant", "linear", "cosine", "onecycle")
#: which way each test score improves (``eval.best``)
SCORE_GOAL = {"fd": "lower", "kid": "lower", "l1": "lower", "sem_dist": "lower", "attr_acc": "higher",
              "cycle_acc": "higher", "skin_rho": "higher", "hair_rho": "higher", "domain_acc": 0.5,
              "diversity": 1.0}


#: ``[network]`` keys that list layer widths
WIDTHS = ("encoder", "embedding", "decoder", "discriminator", "domain_classifier")
#: the largest ``train.batch`` (per domain): the data's size is unknown when a configuration is
#: resolved, so a generous constant (the paper uses 32) keeps a typo from allocating without end
MAX_BATCH = 4096
#: the largest ``network.image_size``: facealign's largest crop
MAX_IMAGE_SIZE = 4096


class ConfigError(InputError):
    """A preset or override that cannot be used, with the one sentence that says why (a usage
    error on the command line)."""


def preset_names() -> list[str]:
    """The presets shipped with the package."""
    folder = resources.files("xgan") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_summaries() -> dict[str, str]:
    """``{name: description}`` of the shipped presets (what ``xgan presets`` lists)."""
    return {n: _read(n)[0].get("description", "") for n in preset_names()}


def preset_models() -> dict[str, str]:
    """``{name: model}``: the model each shipped preset trains when used alone (its own or its base's)."""
    return {n: next((d["model"] for d, _ in reversed(_chain(n)) if "model" in d), "xgan") for n in preset_names()}


def _read(name_or_path: str | os.PathLike) -> tuple[dict, str]:
    text, where = None, str(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or os.sep in str(name_or_path):
        if not path.is_file():
            raise ConfigError(f"preset file {path} does not exist")
        text = path.read_text(encoding="utf-8")
    else:
        res = resources.files("xgan") / "presets" / f"{name_or_path}.toml"
        if not res.is_file():
            raise ConfigError(f"unknown preset {name_or_path!r}; shipped presets: {', '.join(preset_names())}")
        text = res.read_text(encoding="utf-8")
    try:
        return loads(text), where
    except TOMLDecodeError as e:
        raise ConfigError(f"preset {where} is not valid TOML: {e}") from None


def _chain(name_or_path: str | os.PathLike, seen: tuple = ()) -> list[tuple[dict, str]]:
    """The preset and its bases, root first."""
    data, where = _read(name_or_path)
    if where in seen:
        raise ConfigError(f"preset {where} inherits from itself (via {' -> '.join(seen)})")
    base = data.get("base")
    if base is None:
        return [(data, where)]
    if not isinstance(base, str):
        raise ConfigError(f"preset {where}: base must be a preset name, got {base!r}")
    if Path(where).parent != Path(".") and not Path(base).suffix and (Path(where).parent / f"{base}.toml").is_file():
        base = str(Path(where).parent / f"{base}.toml")  # a sibling file shadows a shipped preset
    return _chain(base, seen + (where,)) + [(data, where)]


def _same_type(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return isinstance(old, float) or isinstance(new, int)
    if isinstance(old, list) and isinstance(new, list):
        return all(_same_type(old[0], v) for v in new) if old else True
    return type(old) is type(new)


#: sections every model reads, whatever it is: their keys and defaults are the root preset's (paper.toml)
COMMON = ("network", "optim", "train", "eval")
#: ``[network]`` keys that choose a kind of layer rather than a width, with the paper's value: a model
#: that does not read one (its :attr:`ModelSettings.network`) refuses any other value
NETWORK_CHOICES = {"critic": "paper", "critic_norm": "batch", "critic_scales": 1, "norm": "batch",
                   "upsample": "transposed"}


@dataclass(frozen=True)
class ModelSettings:
    """What a model declares about its own settings (``SETTINGS`` in its module, next to its code, as
    CUT's ``modify_commandline_options``): the one table of a configuration it owns, that table's keys
    with their defaults, and the shared ``[network]`` choices it reads. A configuration holds the
    common sections (:data:`COMMON`) and the table of the model it trains, nothing of another model's.

    ``defaults`` are what a configuration that lacks a key means: the value every run before the key
    existed was trained with (so a new key never changes an old run). ``legacy`` tells how the table
    of configurations written before models owned their settings, when XGAN's ``[loss]`` was every
    model's, reads for this model (:func:`migrate`); ``off`` (XGAN's) gives each of its ``[loss]`` keys
    the value that turns it off and what it does, for those configurations of other models."""

    label: str                              # the model's name in messages ("CycleGAN")
    description: str                        # one line, listed by ``xgan models``
    section: str                            # the table it owns: its name, or "loss" for XGAN (the paper's)
    defaults: Mapping[str, Any]
    network: tuple[str, ...] = ()           # the NETWORK_CHOICES it reads (and checks itself)
    legacy: "LegacyLoss | None" = None
    off: Mapping[str, tuple[Any, str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class LegacyLoss:
    """How an older configuration's ``[loss]`` table (XGAN's keys, which baseline presets zeroed) reads
    for a model that owns its settings elsewhere: ``moved`` keys now live in its own table (``loss.w_gan``
    -> ``cyclegan.w_gan``); ``fixed`` keys had one possible value for it (with why); every other key is
    XGAN's and must hold its off value (``reasons``: why, per key, where the generic sentence is too vague)."""

    moved: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, tuple[Any, str]] = field(default_factory=dict)
    own_weights: str = ""
    reasons: Mapping[str, str] = field(default_factory=dict)


def _settings(model: Any, where: str) -> ModelSettings:
    from .models import model_names, model_settings

    if not isinstance(model, str) or model not in model_names():
        raise ConfigError(f"{where}: unknown model {model!r}; models: {', '.join(model_names())} (xgan models)")
    return model_settings(model)


def _overlay(target: dict, layer: Mapping, where: str, prefix: str = "") -> None:
    """Apply ``layer``'s keys onto ``target`` (a table of the schema), each checked: an unknown key fails
    with its dotted name and the closest known one, a value of another type with the expected type."""
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if key not in target:
            close = difflib.get_close_matches(key, list(target), n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {dotted!r}{hint}")
        old = target[key]
        if isinstance(old, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"preset {where}: {dotted!r} must be a table")
            _overlay(old, value, where, dotted + ".")
        else:
            if not _same_type(old, value):
                raise ConfigError(f"{where}: {dotted!r} must be {type(old).__name__} like {old!r}, got {value!r}")
            target[key] = float(value) if isinstance(old, float) and not isinstance(value, bool) else value


def _legacy_loss(table: Mapping, spec: ModelSettings, where: str) -> dict:
    """An older ``[loss]`` table (or ``--set loss.KEY``) for a model other than XGAN, as that model's own
    keys: the keys it moved, checked against the values it had to hold, XGAN's checked to be off."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"preset {where}: 'loss' must be a table")
    legacy, xgan = spec.legacy or LegacyLoss(), _settings("xgan", where)
    own: dict = {}
    for key, value in table.items():
        if key in legacy.moved:
            own[legacy.moved[key]] = value
        elif key in legacy.fixed:
            need, why = legacy.fixed[key]
            if value != need:
                raise ConfigError(f"loss.{key} must be {need} for {spec.label} ({why}), got {value!r}")
        elif key in xgan.off:
            off, what = xgan.off[key]
            if off is None or (list(value) if isinstance(value, (list, tuple)) else value) == off:
                continue  # read by XGAN alone, and harmless here (the teacher's name, the GRL's factor)
            if what is None:
                why = legacy.reasons.get(key) or f"{spec.label}'s own weights are {legacy.own_weights}"
                raise ConfigError(f"loss.{key} is XGAN's weight and must be 0 for {spec.label}; {why} "
                                  f"(got loss.{key} = {value})")
            why = legacy.reasons.get(key) or f"{spec.label} has no such term"
            raise ConfigError(f"loss.{key} {what} and must be off for {spec.label} ({why}), got {value}")
        else:
            close = difflib.get_close_matches(key, list(xgan.off) + list(legacy.moved), n=1)
            hint = f" (did you mean loss.{close[0]}?)" if close else ""
            raise ConfigError(f"{where}: unknown key 'loss.{key}'{hint}")
    return own


def _parse_value(text: str) -> Any:
    try:
        return loads(f"v = {text}")["v"]
    except TOMLDecodeError as e:
        if str(e) == NESTED_TOO_DEEPLY:
            raise ConfigError(f"override value {_short(text)}: {NESTED_TOO_DEEPLY}") from None
        return text  # a bare word is a string: --set loss.gan=both


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def parse_overrides(items: Iterable[str]) -> dict:
    """``["loss.w_sem=0", "train.batch=8"]`` as a nested dict."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like section.key=value")
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _parse_value(value.strip())
    return out


def resolve(presets: str | os.PathLike | Sequence[str | os.PathLike], overrides: Mapping | Iterable[str] = ()) -> dict:
    """The complete configuration of a run: the first preset with its bases, then each further
    preset's own keys, then ``overrides`` (a nested dict or ``section.key=value`` strings)."""
    if isinstance(presets, (str, os.PathLike)):
        presets = [presets]
    if not presets:
        raise ConfigError("name at least one preset")
    layers = _chain(presets[0]) + [_read(extra) for extra in presets[1:]]
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    model, where = next(((data["model"], where) for data, where in reversed(layers + [(overrides, "--set")])
                         if "model" in data), ("xgan", "model"))
    config = _build(model, layers + [(overrides, "--set")], where)
    names = [Path(p).stem if str(p).endswith(".toml") else str(p) for p in presets]
    descriptions = [_read(p)[0].get("description", "") for p in presets]
    config["description"] = "; ".join(d for d in descriptions if d)
    config["preset"] = "+".join(names)
    validate(config)
    return config


def migrate(saved: Mapping, where: str = "a saved configuration") -> dict:
    """A configuration written by any earlier xgan (a run folder's config.toml, a checkpoint's) as this
    xgan reads it, in the one place where old configurations are read: keys added since take their
    defaults (the values those runs were trained with), and a baseline's ``[loss]`` table of XGAN's keys
    (zeroed, from before each model owned its settings) becomes the keys of its own table. Raises
    ConfigError for a configuration no xgan could have trained with. Not validated: see :func:`validate`."""
    model = saved.get("model", "xgan")
    config = _build(model, [(saved, where)], where)
    for key in ("description", "preset"):
        if key in saved:
            config[key] = saved[key]
    return config


def _skeleton(model: str, spec: ModelSettings) -> dict:
    """Every key of a ``model`` run's configuration with its default, in the order config.toml lists them."""
    common = copy.deepcopy(_common_defaults())
    own = {spec.section: copy.deepcopy(dict(spec.defaults))}
    return {"model": model, "network": common["network"], **(own if spec.section == "loss" else {}),
            **{k: common[k] for k in COMMON[1:]}, **({} if spec.section == "loss" else own)}


@functools.lru_cache(maxsize=None)
def _common_defaults() -> dict:
    root = loads((resources.files("xgan") / "presets" / "paper.toml").read_text(encoding="utf-8"))
    return {section: root[section] for section in COMMON}


def _build(model: str, layers: Sequence[tuple[Mapping, str]], chosen_in: str) -> dict:
    """``model``'s configuration: its defaults, then each layer's keys in order. A table of the model's own
    from a preset that does not choose the model (a width preset, e.g. cpu-small's ``[cyclegan]``) applies
    on top of the preset that chooses it; a table of another model is checked (a typo fails whichever model
    the run trains) and left out, except from ``--set``, which may only name this run's keys; an older
    ``[loss]`` table in a configuration of another model than XGAN is read by :func:`_legacy_loss`."""
    spec = _settings(model, chosen_in)
    config = _skeleton(model, spec)
    pending: list[tuple[Mapping, str]] = []  # the model's own tables, from presets before one chose it
    chosen = False
    for data, where in layers:
        chooses = data.get("model") == model
        for key, value in data.items():
            if key in META_KEYS or key in ("model", "preset"):
                if key == "model":
                    _settings(value, where)
                continue
            if key in COMMON or key == spec.section:
                if not isinstance(value, dict):
                    raise ConfigError(f"preset {where}: {key!r} must be a table")
                if key == spec.section and not (chosen or chooses or where == "--set"):
                    _overlay(copy.deepcopy(dict(spec.defaults)), value, where, key + ".")  # a typo fails now
                    pending.append((value, where))
                else:
                    _overlay(config[key], value, where, key + ".")
                continue
            owner = _section_owner(key)
            if owner is None or where == "--set" and not (key == "loss" and spec.legacy is not None):
                close = difflib.get_close_matches(key, list(config), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ConfigError(f"{where}: unknown key {key!r}{hint}")
            if key == "loss" and data.get("model", model) == model:
                _overlay(config[spec.section], _legacy_loss(value, spec, where), where, spec.section + ".")
            elif not isinstance(value, dict):
                raise ConfigError(f"preset {where}: {key!r} must be a table")
            else:  # another model's table: checked, and not part of this run
                _overlay(copy.deepcopy(dict(owner.defaults)), value, where, key + ".")
        if chooses and not chosen:
            chosen = True
            for table, earlier in pending:
                _overlay(config[spec.section], table, earlier, spec.section + ".")
            pending.clear()
    for table, earlier in pending:  # no preset chose the model (--set model=...): its tables apply in order
        _overlay(config[spec.section], table, earlier, spec.section + ".")
    return config


def _section_owner(key: str) -> ModelSettings | None:
    """The settings of the model whose table ``key`` is, if any."""
    from .models import model_names, model_settings

    return next((s for s in map(model_settings, model_names()) if s.section == key), None)


def validate(config: dict) -> None:
    """Range and choice checks of a resolved configuration: the common sections' here (no table may hold
    a number that cannot train, see :func:`_check_numbers`), the model's own by the model
    (:func:`xgan.models.check_settings`)."""
    from .models import check_settings

    _check_numbers(config)
    t, o, ev = config["train"], config["optim"], config["eval"]
    for key in ("batch", "steps", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "sample_count"):
        if t[key] < 1:
            raise ConfigError(f"train.{key} must be at least 1, got {t[key]}")
    for key in ("diagnose_every",):
        if t[key] < 0:
            raise ConfigError(f"train.{key} must be 0 (off) or a number of steps, got {t[key]}")
    if not (math.isfinite(t["ema"]) and 0 <= t["ema"] < 1):
        raise ConfigError(f"train.ema must be 0 (off) or a decay in [0, 1) such as 0.999, got {t['ema']}")
    if t["keep"] not in ("last", "best"):
        raise ConfigError(f"train.keep must be \"last\" or \"best\", got {t['keep']!r}")
    if min(o["lr"], o["lr_dis"]) <= 0:
        raise ConfigError("optim.lr and optim.lr_dis must be positive")
    if o["weight_decay"] < 0:
        raise ConfigError(f"optim.weight_decay must be >= 0, got {o['weight_decay']}")
    if o["schedule"] not in SCHEDULES:
        raise ConfigError(f"optim.schedule must be one of {', '.join(SCHEDULES)}; got {o['schedule']!r}")
    if ev["every"] < 0:
        raise ConfigError(f"eval.every must be 0 (off) or a number of steps, got {ev['every']}")
    if ev["count"] < 8 or ev["ruler_steps"] < 1:
        raise ConfigError("eval.count must be at least 8 and eval.ruler_steps at least 1")
    if ev["best"] not in SCORE_GOAL:
        raise ConfigError(f"eval.best must be one of {', '.join(SCORE_GOAL)}; got {ev['best']!r}")
    if t["keep"] == "best" and ev["every"] == 0:
        raise ConfigError("train.keep = \"best\" needs test scores: set eval.every to a number of steps")
    try:
        check_settings(config)
    except ConfigError:
        raise
    except ValueError as e:  # the model's checks speak for any caller: here they are a preset's or --set's
        raise ConfigError(str(e)) from None


def _check_numbers(config: Mapping) -> None:
    """What no table may hold, whichever model reads it: a float that is not finite (an infinite
    learning rate trains to NaN weights and exits 0), a layer width below 1, or a kernel, image size or
    batch so large that the run allocates without end before any check of the model's could speak."""
    for section, table in config.items():
        if not isinstance(table, Mapping):
            continue
        for key, value in table.items():
            items = value if isinstance(value, list) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in items):
                raise ConfigError(f"{section}.{key} must be a finite number, got {value}")
    net, t = config["network"], config["train"]
    for key in WIDTHS:
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in net[key]):
            raise ConfigError(f"network.{key} must list layer widths of at least 1, got {net[key]}")
    size, kernel = net["image_size"], net["kernel"]
    if not 1 <= size <= MAX_IMAGE_SIZE:
        raise ConfigError(f"network.image_size must be between 1 and {MAX_IMAGE_SIZE} pixels, got {size}")
    if kernel < 2 or kernel % 2 or kernel > size:
        raise ConfigError(f"network.kernel must be an even number from 2 to network.image_size ({size}), got {kernel}")
    if t["batch"] > MAX_BATCH:
        raise ConfigError(f"train.batch must be at most {MAX_BATCH} images per domain (a generous bound: the data's "
                          f"size is not known yet), got {t['batch']}")


def score_is_better(metric: str, new: float, old: float) -> bool:
    """Whether test score ``metric`` improved from ``old`` to ``new``."""
    goal = SCORE_GOAL[metric]
    if goal == "lower":
        return new < old
    if goal == "higher":
        return new > old
    return abs(new - goal) < abs(old - goal)


def differences(a: Mapping, b: Mapping, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two configurations."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += differences(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}: {va!r} -> {vb!r}")
    return out


def to_toml(config: Mapping) -> str:
    """A resolved configuration as a root preset (scalars first, then one table per section)."""
    scalars = {k: v for k, v in config.items() if not isinstance(v, Mapping) and k != "preset"}
    tables = {k: dict(v) for k, v in config.items() if isinstance(v, Mapping)}
    return f"# resolved from preset {config.get('preset', '?')}; usable as --preset\n" + dumps({**scalars, **tables})
