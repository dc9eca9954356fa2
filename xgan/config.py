"""Training presets: every weight, width and schedule of a run lives in one TOML file.

A preset is either a root (no ``base``; it then defines the complete schema) or names a ``base`` and
overrides some of its keys. Several presets can be stacked (``["cpu-small", "no-sem"]``): each later
one applies only the keys it sets itself, so an ablation runs at any width. Every key is checked
against the root's schema on load, so a typo fails with the key's name instead of being ignored. A
preset that chooses a model other than the root's may add one table named after that model (``model =
"dtn"`` with ``[dtn]``) for its own settings; that table is then part of the schema, and the shipped
preset named after the model defines its keys (and the defaults :func:`with_defaults` fills in). A preset
that does not choose the model (a width preset, such as cpu-small) may carry the model's table too: its
keys are checked on load and apply on top of the values of the preset that chooses the model, when one
does, so ``["cpu-small", "cyclegan"]`` builds CycleGAN at cpu-small's cost while ``["paper",
"cyclegan"]`` keeps the paper's networks; presets stacked later and ``--set`` still come after it.
The resolved configuration is written next to the checkpoints as a preset that reproduces the run.
"""
from __future__ import annotations

import copy
import difflib
import functools
import math
import os
import re
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


def model_table(model: str) -> dict | None:
    """The ``[model]`` table of the shipped preset named after ``model`` (the schema and defaults of that
    model's own settings), or None when no such preset chooses that model (XGAN's settings are the root's)."""
    table = _model_table(model) if re.fullmatch(r"[a-z][a-z0-9_]*", model) else None
    return copy.deepcopy(table)


@functools.lru_cache(maxsize=None)
def _model_table(model: str) -> dict | None:
    res = resources.files("xgan") / "presets" / f"{model}.toml"
    if not res.is_file():
        return None
    data = loads(res.read_text(encoding="utf-8"))
    table = data.get(model)
    return table if data.get("model") == model and isinstance(table, dict) else None


def _overlay(target: dict, layer: Mapping, where: str, prefix: str = "",
             deferred: dict[str, list[tuple[Mapping, str]]] | None = None) -> None:
    """Apply ``layer``'s keys onto ``target``. With ``deferred`` (presets, not --set), a table for a model
    that no preset has chosen yet is checked against that model's preset and kept there until one does."""
    model = None if prefix else layer.get("model", target.get("model"))
    for key, value in layer.items():
        if not prefix and key in META_KEYS:
            continue
        dotted = f"{prefix}{key}"
        if key not in target and key == model and isinstance(value, dict):
            target[key] = copy.deepcopy(value)  # the model's own table, introduced by the preset choosing it
            for table, earlier in (deferred or {}).pop(key, []):
                _overlay(target[key], table, earlier, dotted + ".")  # an earlier width preset's values for it
            continue
        schema = model_table(key) if key not in target and deferred is not None and isinstance(value, dict) else None
        if schema is not None:
            _overlay(schema, value, where, dotted + ".")  # a typo fails now, whichever model this run trains
            deferred.setdefault(key, []).append((value, where))
            continue
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
    chain = _chain(presets[0])
    root, root_where = chain[0]
    config = copy.deepcopy({k: v for k, v in root.items() if k not in META_KEYS})
    names = []
    deferred: dict[str, list[tuple[Mapping, str]]] = {}  # tables for models no preset has chosen (yet)
    for data, where in chain[1:] + [_read(extra) for extra in presets[1:]]:
        _overlay(config, data, where, deferred=deferred)
    for p in presets:
        names.append(Path(p).stem if str(p).endswith(".toml") else str(p))
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    _overlay(config, overrides, "--set")
    descriptions = [_read(p)[0].get("description", "") for p in presets]
    config["description"] = "; ".join(d for d in descriptions if d)
    config["preset"] = "+".join(names)
    validate(config)
    return config


def with_defaults(config: dict) -> dict:
    """Keys added after a run folder's config.toml (or checkpoint) was written read with the paper's
    defaults, and those of the model's own table with its preset's (whose values for keys added later
    are the networks built before them); returns ``config``, completed in place."""
    paper = loads((resources.files("xgan") / "presets" / "paper.toml").read_text(encoding="utf-8"))
    for section in ("network", "loss", "optim", "train", "eval"):
        for key, value in paper[section].items():
            config.setdefault(section, {}).setdefault(key, copy.deepcopy(value))
    model = config.get("model")
    own = model_table(model) if isinstance(model, str) and isinstance(config.get(model), dict) else None
    for key, value in (own or {}).items():
        config[model].setdefault(key, value)
    return config


def validate(config: dict) -> None:
    """Range and choice checks of a resolved configuration (the model checks its own tables' ranges;
    no table may hold a number that cannot train, see :func:`_check_numbers`)."""
    with_defaults(config)
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
