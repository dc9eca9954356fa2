"""Models own their settings (issue 37): each model declares its table next to its code, the registry
lists them, no preset or configuration carries another model's keys, and configurations written before
(run folders' config.toml, checkpoints) are read in one place and still load, resume and translate."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cartoonset.common.tomlio import loads
from xgan import checkpoint as ckpt
from xgan.cli import main
from xgan.config import COMMON, ConfigError, migrate, preset_models, preset_names, resolve
from xgan.data import DomainArrays
from xgan.models import MODELS, build_model, check_settings, list_models, model_module, model_settings
from xgan.models.base import CRITICS_FIRST, Model
from xgan.models.cyclegan import CycleGAN
from xgan.trainer import Trainer, load_model, train, trained_differently

OLD = Path(__file__).parent / "data" / "old-configs"
PRESETS = Path(__file__).parents[1] / "xgan" / "presets"
SMALL = ["network.image_size=32", "network.encoder=[8, 8, 8]", "network.embedding=[16, 16]",
         "network.decoder=[8, 8, 4]", "network.discriminator=[4, 4, 4]", "train.batch=4", "train.log_every=2",
         "train.sample_every=100", "train.checkpoint_every=2", "train.sample_count=3", "eval.every=0"]


def images(n=2, size=32, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# --- the registry and what each model declares ----------------------------------------------------------

def test_xgan_models_lists_every_model_and_every_preset_trains_one():
    out = CliRunner().invoke(main, ["models"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert [line.split()[0] for line in lines] == list(MODELS) == list(list_models())
    for name, line in zip(MODELS, lines):
        assert model_settings(name).description in line and f"[{model_settings(name).section}]" in line
    assert set(preset_models().values()) <= set(MODELS)
    assert preset_models()["cpu-small"] == "xgan" and preset_models()["fastcut"] == "cut"


@pytest.mark.parametrize("name", list(MODELS))
def test_each_model_declares_its_table_and_its_preset_trains_its_defaults(name):
    module, spec = model_module(name), model_settings(name)
    assert callable(module.check) and issubclass(module.MODEL, Model) and spec.description
    assert spec.section == ("loss" if name == "xgan" else name)
    assert len({model_settings(m).section for m in MODELS}) == len(MODELS)
    # the defaults are what runs saved before a key existed were trained with: the paper base's values
    own = resolve("paper" if name == "xgan" else name)
    assert own[spec.section] == spec.defaults
    assert set(own) - {"model", "description", "preset"} == set(COMMON) | {spec.section}


@pytest.mark.parametrize("preset", preset_names())
def test_no_preset_mentions_another_models_keys(preset):
    """A preset that chooses a model holds only the common sections and that model's table; a resolved
    configuration (alone, or on cpu-small) only the common sections and its model's table."""
    data = loads((PRESETS / f"{preset}.toml").read_text("utf-8"))
    tables = {k for k, v in data.items() if isinstance(v, dict)}
    if "model" in data:
        assert tables <= set(COMMON) | {model_settings(data["model"]).section}, tables
    for stack in ([preset], ["cpu-small", preset]):
        config = resolve(stack)
        own = model_settings(config["model"]).section
        assert {k for k, v in config.items() if isinstance(v, dict)} == set(COMMON) | {own}, stack


def test_an_unknown_model_names_the_registry():
    with pytest.raises(ConfigError, match=r"unknown model 'pix2pix'; models: xgan, dtn, cyclegan, unit, cut"):
        resolve("cpu-small", ["model=pix2pix"])


# --- old configurations: one place reads them ----------------------------------------------------------

#: what each file in tests/data/old-configs differs by from today's resolution of its preset stack
OLD_DIFFERENCES = {  # the saved value -> today's of the stack: --set at the time, or a key added since
    "bench-cyclegan-before-stem": ["cyclegan.blocks: 3 -> 1", "cyclegan.stem: 'c7s1' -> 'c4s2'"],
    "proof-joint-r1-group-resize": ["loss.r1: 1.0 -> 0.0", "network.critic: 'joint' -> 'paper'",
                                    "network.norm: 'group' -> 'batch'", "network.upsample: 'resize' -> 'transposed'"],
    "screen-patch": ["loss.gan_loss: 'hinge' -> 'nonsaturating'", "network.critic: 'patch' -> 'paper'",
                     "network.critic_norm: 'spectral' -> 'batch'"],
}
ALLOWED = ("description", "preset", "train.seed", "train.steps", "train.diagnose_every", "train.checkpoint_every",
           "train.ema", "eval")


@pytest.mark.parametrize("path", sorted(OLD.glob("*.toml")), ids=lambda p: p.stem)
def test_old_run_folders_configurations_read_as_today(path):
    """config.toml files written by the code before this change (baselines with XGAN's [loss] zeroed; a
    proof and a screen run of issue 40; a benchmark run from before the stem key) read as today's
    configuration of their preset stack, from migrate and used as --preset alike, and pass the checks."""
    text = path.read_text("utf-8")
    old = loads(text)
    stack = text.split("\n", 1)[0].split("preset ", 1)[1].split(";")[0].split("+")
    now = migrate(old, str(path))
    assert "loss" in now if old["model"] == "xgan" else "loss" not in now
    diff = [d for d in trained_differently(old, resolve(stack)) if not d.startswith(ALLOWED)]
    assert diff == OLD_DIFFERENCES.get(path.stem, [])
    assert {k: v for k, v in resolve(path).items() if k != "preset"} == \
        {k: v for k, v in now.items() if k != "preset"}  # "usable as --preset", as its first line says
    check_settings(now)
    if old["model"] != "xgan":
        legacy = old["loss"]
        assert now[old["model"]].get("w_gan") == legacy["w_gan"]


def old_shape(config: dict) -> dict:
    """``config`` (a CycleGAN run's) as the code before this change wrote it: XGAN's [loss] table, zeroed,
    holding CycleGAN's GAN weight; its own table without it."""
    old = copy.deepcopy(config)
    old["loss"] = loads((OLD / "cpu-small+cyclegan.toml").read_text("utf-8"))["loss"]
    old["loss"]["w_gan"] = old["cyclegan"].pop("w_gan")
    return old


def test_an_old_baseline_run_resumes_exactly_loads_and_translates(tmp_path):
    r = np.random.default_rng(0)
    data = DomainArrays({"face": r.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8),
                         "cartoon": r.integers(0, 256, (9, 32, 32, 3), dtype=np.uint8)})
    test = DomainArrays({"face": data.images["face"][:3], "cartoon": data.images["cartoon"][:3]})
    kw = dict(device="cpu", show_progress=False, tensorboard=False)
    config = lambda *extra: resolve(["cpu-small", "cyclegan"], SMALL + ["cyclegan.pool_size=3", *extra])  # noqa: E731
    full = train(config("train.steps=4"), data, test, tmp_path / "full", **kw)
    train(config("train.steps=2"), data, test, tmp_path / "old", **kw)
    for path in [tmp_path / "old" / "model.pt", *(tmp_path / "old" / "checkpoints").glob("*.pt")]:
        state = ckpt.load(path)
        state["config"] = old_shape(state["config"])  # the run as the code before this change saved it
        ckpt.save(path, state)
    model, state = load_model(tmp_path / "old" / "model.pt")
    assert "loss" in state["config"] and model.config["cyclegan"]["w_gan"] == 1.0
    assert model.translate(images(), "face", "cartoon").shape == (2, 3, 32, 32)
    resumed = train(config("train.steps=4"), data, test, tmp_path / "old", resume=True, **kw)
    a = torch.load(full["checkpoint"], weights_only=True)["networks"]
    b = torch.load(resumed["checkpoint"], weights_only=True)["networks"]
    assert all(torch.equal(v, b[net][k]) for net in a for k, v in a[net].items())


def test_old_spellings_of_the_baselines_settings_still_work(tmp_path):
    """--set loss.w_gan and loss.gan_loss, an ablation preset stacked on a baseline, an old-style preset
    file: each reaches the model's own key; XGAN's weights are refused as before."""
    assert resolve(["cpu-small", "cyclegan"], ["loss.w_gan=2.0"])["cyclegan"]["w_gan"] == 2.0
    assert resolve(["cpu-small", "unit"], ["loss.gan_loss=lsgan"])["unit"]["gan_loss"] == "lsgan"
    assert resolve(["cpu-small", "dtn"], ["loss.w_tv=0.2", "loss.teacher=none"])["dtn"]["w_tv"] == 0.2
    assert resolve(["cpu-small", "cyclegan", "no-gan"])["cyclegan"]["w_gan"] == 0.0  # no critics, as before
    assert resolve(["cpu-small", "cyclegan", "no-sem"]) == \
        {**resolve(["cpu-small", "cyclegan"]), "description": resolve(["cpu-small", "cyclegan", "no-sem"])["description"],
         "preset": "cpu-small+cyclegan+no-sem"}
    with pytest.raises(ConfigError, match="loss.w_tv is XGAN's weight and must be 0 for CycleGAN"):
        resolve(["cpu-small", "cyclegan", "tv-instead-of-gan"])
    with pytest.raises(ConfigError, match=r"unknown key 'loss.w_gna' \(did you mean loss.w_gan\?\)"):
        resolve(["cpu-small", "cut"], ["loss.w_gna=1.0"])
    mine = tmp_path / "mine.toml"
    mine.write_text('base = "cpu-small"\nmodel = "cyclegan"\n[cyclegan]\nlambda_cycle = 5.0\n'
                    '[loss]\nw_gan = 2.0\ngan = "both"\ngan_loss = "lsgan"\nw_rec = 0.0\nw_sem = 0.0\n')
    c = resolve(mine)["cyclegan"]
    assert (c["w_gan"], c["lambda_cycle"], c["blocks"]) == (2.0, 5.0, 1)  # blocks: its base cpu-small's [cyclegan]
    with pytest.raises(ConfigError, match="unknown key 'cut'"):
        resolve(["cpu-small", "cyclegan"], ["cut.w_gan=1.0"])  # --set names only the run's own keys


# --- the template and the update order -------------------------------------------------------------------

def test_the_template_is_a_model_that_updates_its_critics_first(monkeypatch):
    monkeypatch.setitem(MODELS, "template", "template")
    config = resolve("cpu-small", SMALL + ["model=template", "template.blocks=2"])
    assert config["template"]["blocks"] == 2 and "loss" not in config
    with pytest.raises(ConfigError, match="template.lambda_idt must be >= 0"):
        resolve("cpu-small", SMALL + ["model=template", "template.lambda_idt=-1.0"])
    torch.manual_seed(0)
    model = build_model(config)
    assert model.update_order == CRITICS_FIRST
    trainer = Trainer(config, model)
    batch = {"face": images(4), "cartoon": images(4, seed=1)}
    order = []
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}

    def critic_fakes(b):
        order.append("fakes")
        assert all(torch.equal(v, before[k]) for k, v in model.generator.state_dict().items())  # G not moved yet
        return type(model).critic_fakes(model, b)

    monkeypatch.setattr(model, "critic_fakes", critic_fakes)
    dis_update, gen_update = trainer.dis_update, trainer.gen_update
    monkeypatch.setattr(trainer, "dis_update", lambda *a: order.append("critics") or dis_update(*a))
    monkeypatch.setattr(trainer, "gen_update", lambda *a: order.append("generator") or gen_update(*a))
    logs = trainer.train_step(batch)
    assert order == ["fakes", "critics", "generator"]
    assert set(model.loss_names) <= set(logs) and all(torch.isfinite(v).all() for v in logs.values())
    assert model.translate(images(), "face", "cartoon").shape == (2, 3, 32, 32)


def test_a_model_that_updates_its_critics_first_must_draw_their_translations():
    with pytest.raises(TypeError, match="updates its critics first but does not define critic_fakes"):
        type("Late", (CycleGAN,), {"update_order": CRITICS_FIRST})
    with pytest.raises(TypeError, match="update_order must be one of"):
        type("Odd", (CycleGAN,), {"update_order": "both"})


def test_one_recommendation_in_the_presets_the_methods_and_the_readme():
    """Issue 38.13: `xgan presets` called xgan-plus the "recommended XGAN recipe" while the README
    recommended rec-dann. One recommendation now: rec-dann for translations; xgan-plus is the best XGAN
    measured, and says so, and no other preset or benchmark label claims to be the recommended one."""
    from xgan.config import preset_summaries

    claims = {name: text for name, text in preset_summaries().items() if "recommended" in text}
    assert set(claims) == {"xgan-plus"} and "rec-dann, the recommended preset" in claims["xgan-plus"]
    assert "best XGAN measured" in claims["xgan-plus"]
    methods = loads((Path(__file__).parents[1] / "xgan" / "benchmark" / "methods.toml").read_text())
    assert not any("recommended" in m.get("label", "") for m in methods.values() if isinstance(m, dict))
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    which = readme[readme.index("Which to use"):][:400]
    assert "(`rec-dann`)" in which and "`xgan-plus` is the best XGAN measured" in which
