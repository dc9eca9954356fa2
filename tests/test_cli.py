"""The three console scripts as a user meets them: they install and import, every subcommand answers
``--help`` and can import what it runs, errors follow one convention (2: usage, 1: failure) in one
line without a traceback, and stderr carries nothing but the commands' own messages."""
import ast
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

BIN = Path(sys.executable).parent
TOOLS = ("cartoonset", "facealign", "xgan")
#: subcommands each tool must keep (others may be added)
EXPECTED = {"cartoonset": {"render", "preview", "stats", "export-hf"}, "facealign": {"run", "fetch", "preview"},
            "xgan": {"train", "translate", "sample", "benchmark"}}
HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
#: lines a library writes behind a command's back: native INFO/WARNING logs, Python warnings, tracebacks
FOREIGN = re.compile(r"^(?:[IWEF]\d{4} |INFO: |WARNING: |Traceback |\S+Warning: |\s+warnings\.warn)")


def run(tool: str, *args, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, CARTOONSET_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    return subprocess.run([str(BIN / tool), *map(str, args)], capture_output=True, text=True, env=env, **kw)


def subcommands() -> list[tuple[str, str]]:
    return [(tool, name) for tool in TOOLS for name in sorted(importlib.import_module(f"{tool}.cli").main.commands)]


def test_packages_import():
    """Every public name resolves (the lazily imported ones too), each package reports the one
    version, and the command lines load no heavy library before a command runs."""
    from cartoonset.common import version

    for tool in TOOLS:
        pkg = importlib.import_module(tool)
        assert pkg.__version__ is version.__version__
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, f"{tool}.{name}"
        assert EXPECTED[tool] <= set(importlib.import_module(f"{tool}.cli").main.commands), tool
    code = ("import sys, cartoonset.cli, facealign.cli, xgan.cli; "
            "print(sorted(m for m in ('torch', 'mediapipe', 'cv2', 'cairosvg', 'matplotlib') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", loaded


@pytest.mark.parametrize("tool", TOOLS)
def test_cli_version(tool):
    from cartoonset.common.version import __version__

    out = run(tool, "--version")
    assert out.returncode == 0 and out.stdout.strip() == f"{tool}, version {__version__}", out.stdout + out.stderr


@pytest.mark.parametrize("tool,command", subcommands())
def test_cli_help_and_version(tool, command):
    """Each subcommand's help, from the installed console script."""
    top = run(tool, "--help")
    assert top.returncode == 0 and re.search(rf"^\s+{re.escape(command)}\s", top.stdout, re.M), top.stdout
    out = run(tool, command, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Usage: {tool} {command} ") and out.stderr == ""
    for param in importlib.import_module(f"{tool}.cli").main.commands[command].params:
        if getattr(param, "hidden", False):
            continue
        for opt in getattr(param, "opts", []):
            if opt.startswith("-"):
                assert opt in out.stdout, f"{tool} {command} --help does not show {opt}"


@pytest.mark.parametrize("tool", TOOLS)
def test_subcommand_imports_resolve(tool):
    """A subcommand imports its library functions when it runs, so --help never sees a rename: check
    every import inside the command functions of the CLI module against the library."""
    path = Path(importlib.import_module(f"{tool}.cli").__file__)
    checked = 0
    for fn in ast.walk(ast.parse(path.read_text())):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom):
                base = importlib.import_module(tool) if node.level else None
                module = importlib.import_module(("." * node.level) + (node.module or ""), base and base.__name__)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{path.name}:{node.lineno}: {module.__name__} has no {alias.name}"
                    checked += 1
    assert checked >= 4


def _one_error_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


#: (tool, arguments, exit status, words of the one ``Error:`` line) for click's convention in all three
#: tools: 2 with the usage line for a usage error (a bad option value, an unknown key, preset or pack, a
#: missing input path), 1 without it when the work itself fails. In the arguments MISSING is a path that
#: does not exist, EMPTY an empty folder, PACK a valid pack, LIST a VGG-Face list and OUT the --out folder.
EXIT_CODES = [
    ("cartoonset", ("render", "--n", "-5", "--out", "OUT"), 2, "n must be >= 0, got -5"),
    ("cartoonset", ("render", "--shard", "3/2", "--out", "OUT"), 2, "--shard 3/2: need N >= 1"),
    ("cartoonset", ("render", "--shard", "half", "--out", "OUT"), 2, "--shard must look like K/N"),
    ("cartoonset", ("render", "--size", "4", "--out", "OUT"), 2, "size must be at least 8 px"),
    ("cartoonset", ("render", "--pack", "no-such", "--out", "OUT"), 2, "no-such: not a pack folder"),
    ("cartoonset", ("preview", "--pack", "PACK", "--set", "hair", "--out", "OUT/s.png"), 2, "expected ATTR=INDEX"),
    ("cartoonset", ("preview", "--pack", "PACK", "--set", "beard=1", "--out", "OUT/s.png"), 2, "unknown attribute 'beard'"),
    ("cartoonset", ("preview", "--pack", "PACK", "--tile", "0", "--out", "OUT/s.png"), 2, "'--tile'"),
    ("cartoonset", ("stats", "MISSING"), 2, "'MISSING' does not exist"),
    ("cartoonset", ("preview", "--pack", "EMPTY", "--out", "OUT/s.png"), 1, "pack.toml"),
    ("facealign", ("run", "MISSING", "--out", "OUT"), 2, "'MISSING' does not exist"),
    ("facealign", ("run", HOPPER, "--shard", "3/2", "--out", "OUT"), 2, "--shard 3/2: need N >= 1"),
    ("facealign", ("run", HOPPER, "--background", "purple", "--out", "OUT"), 2, "background must be white"),
    ("facealign", ("run", HOPPER, "--size", "4", "--out", "OUT"), 2, "size must be between 8 and 4096"),
    ("facealign", ("run", HOPPER, "--detector-model", HOPPER, "--out", "OUT"), 2, "model files are for --backend tasks"),
    ("facealign", ("run", HOPPER, "--identities", "MISSING", "--out", "OUT"), 2, "identity file MISSING does not exist"),
    ("facealign", ("fetch", "LIST", "--concurrency", "0", "--out", "OUT"), 2, "concurrency and per_host must be at least 1"),
    ("facealign", ("preview", "MISSING", "--out", "OUT/p.png"), 2, "'MISSING' does not exist"),
    ("facealign", ("preview", "EMPTY", "--out", "OUT/p.png"), 1, "not a facealign output folder"),
    ("xgan", ("config", "--set", "train.stepz=10"), 2, "unknown key 'train.stepz' (did you mean train.steps?)"),
    ("xgan", ("config", "--set", "train.steps=-3"), 2, "train.steps must be at least 1, got -3"),
    ("xgan", ("config", "--preset", "no-such"), 2, "unknown preset 'no-such'"),
    ("xgan", ("config", "--set", "network.encoder=" + "[" * 5000 + "]" * 5000), 2,  # issue 39 (11): a RecursionError
     "override value '" + "[" * 37 + "'...: arrays or tables nested too deeply"),
    ("xgan", ("train", "--cartoons", "MISSING", "--faces", "EMPTY", "--out", "OUT"), 2, "'MISSING' does not exist"),
    ("xgan", ("train", "--preset", "no-such", "--cartoons", "EMPTY", "--faces", "EMPTY", "--out", "OUT"), 2,
     "unknown preset 'no-such'"),
    ("xgan", ("train", "--set", "loss.w_semm=1", "--cartoons", "EMPTY", "--faces", "EMPTY", "--out", "OUT"), 2,
     "unknown key 'loss.w_semm'"),
    ("xgan", ("train", "--cartoons", "EMPTY", "--faces", "EMPTY", "--ruler", "MISSING", "--out", "OUT"), 2,
     "'MISSING' does not exist"),
    ("xgan", ("translate", HOPPER, "--checkpoint", "MISSING", "--out", "OUT"), 2, "'MISSING' does not exist"),
    ("xgan", ("translate", HOPPER, "--checkpoint", HOPPER, "--out", "OUT", "--box", "1,2,3"), 2, "x1 > x0"),
    ("xgan", ("benchmark", "--cartoons", "EMPTY", "--methods", "xgann", "--out", "OUT"), 2, "unknown method 'xgann'"),
    ("xgan", ("benchmark", "--cartoons", "EMPTY", "--tracks", "hard", "--out", "OUT"), 2, "unknown track 'hard'"),
    ("xgan", ("translate", HOPPER, "--checkpoint", HOPPER, "--out", "OUT"), 1, "not a checkpoint xgan wrote"),
]


@pytest.mark.parametrize("tool, args, status, words", EXIT_CODES,
                         ids=[f"{t}-{a[0]}-{s}-{i}" for i, (t, a, s, _) in enumerate(EXIT_CODES)])
def test_exit_codes_follow_one_convention(tmp_path, mini_pack_dir, tool, args, status, words):
    """Issue 38 (6): one exit-code contract in all three tools. A usage error exits 2 with the usage
    line, before anything is written; a failure of the work exits 1 without it; both in one line."""
    out, missing, empty = tmp_path / "out", tmp_path / "missing", tmp_path / "empty"
    empty.mkdir()
    vgg = tmp_path / "Some_One.txt"
    vgg.write_text("1 http://127.0.0.1:9/a.jpg 10 10 100 100 3 1.0 1\n")
    places = {"OUT": out, "MISSING": missing, "EMPTY": empty, "PACK": mini_pack_dir, "LIST": vgg}
    argv = [places[a] if a in places else str(a).replace("OUT/", f"{out}/") for a in args]
    proc = run(tool, *argv, timeout=300)
    assert proc.returncode == status, proc.stderr[-2000:]
    _one_error_line(proc, words.replace("MISSING", str(missing)))
    if status == 2:
        assert proc.stderr.startswith(f"Usage: {tool} {args[0]} "), proc.stderr
        assert not out.exists() or not any(out.iterdir()), "a refused command wrote into --out"
    else:
        assert "Usage:" not in proc.stderr, proc.stderr


def _memory_cap(gib: int = 3):
    """A preexec_fn that caps a child's address space, so a command that would allocate a huge
    array fails there (MemoryError) instead of taking the machine's memory."""
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_AS, (gib << 30, gib << 30))


@pytest.mark.parametrize("args, words", [
    (("preview", "--tile", "100000", "--n", "1", "--out", "OUT/s.png"), "use fewer or smaller tiles"),
    (("preview", "--n", "100000000", "--out", "OUT/s.png"), "use fewer or smaller tiles"),
    (("render", "--n", "1000000000", "--shard", "0/1000000", "--out", "OUT"), "n must be at most 10,000,000"),
    (("render", "--n", "1", "--size", "100000", "--out", "OUT"), "at most 4096 px, got 100000"),
], ids=["tile", "preview-n", "render-n", "render-size"])
def test_impossible_sizes_are_usage_errors(tmp_path, mini_pack_dir, args, words):
    """Issue 39 (5): a tile, a count or a side that cannot be drawn or held in memory is refused as a
    usage error at once (it ended in a MemoryError traceback after allocating, or trying to, 149 GiB)."""
    out = tmp_path / "out"
    argv = [str(a).replace("OUT", str(out)) for a in args] + ["--pack", mini_pack_dir]
    proc = run("cartoonset", *argv, timeout=60, preexec_fn=_memory_cap())
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith(f"Usage: cartoonset {args[0]} "), proc.stderr
    _one_error_line(proc, words)
    assert not out.exists()


def test_missing_cartoons_name_the_command_not_a_python_argument(tmp_path):
    """Issue 38: an empty CartoonSet folder told CLI users to "pass download=True", an argument only
    the Python dataset class has; they are told the command to run instead. (A missing folder is a
    usage error: see EXIT_CODES.)"""
    empty = tmp_path / "empty"
    empty.mkdir()
    train = ("xgan", "train", "--preset", "cpu-small", "--faces", empty, "--device", "cpu", "--out", tmp_path / "run")
    cases = [(run("cartoonset", "stats", empty), empty),
             (run(*train, "--cartoons", empty, timeout=120), empty)]
    for proc, folder in cases:
        assert proc.returncode == 1 and "Usage:" not in proc.stderr, proc.stderr
        assert "download=True" not in proc.stdout + proc.stderr, proc.stderr
        _one_error_line(proc, f"render one with `cartoonset render --out {folder}`")


def _unwritable(tmp_path: Path) -> list[Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    places = [blocker / "out"]
    if Path("/proc/1").is_dir():
        places.append(Path("/proc/1"))
    return places


def test_compile_on_cpu_is_refused_at_once(tmp_path, xgan_data):
    """--compile on CPU (where inductor fails or stalls on the training step) is one line before any
    data is read or anything written, and the library's Trainer refuses it the same way."""
    out = tmp_path / "run"
    proc = run("xgan", "train", "--preset", "cpu-small", "--cartoons", xgan_data / "cartoons", "--faces",
               xgan_data / "faces", "--steps", 1, "--device", "cpu", "--compile", "--out", out, timeout=120)
    assert proc.returncode == 1, proc.stderr
    _one_error_line(proc, "--compile needs a CUDA device", "cpu")
    assert not out.exists()

    import torch

    from xgan.config import resolve
    from xgan.devices import DeviceError, Placement
    from xgan.models import build_model
    from xgan.trainer import Trainer

    config = resolve(["cpu-small"], {"loss": {"w_teach": 0}})
    with pytest.raises(DeviceError, match="CUDA"):
        Trainer(config, build_model(config), Placement(torch.device("cpu")), compile=True)


def test_unwritable_out_is_one_line(tmp_path, mini_pack_dir, xgan_data):
    """The four long commands given an --out they cannot create or write: exit 1, the path and the
    reason, no traceback."""
    vgg = tmp_path / "Some_One.txt"
    vgg.write_text("1 http://127.0.0.1:9/a.jpg 10 10 100 100 3 1.0 1\n")
    for out in _unwritable(tmp_path):
        commands = [("cartoonset", "render", "--n", 2, "--size", 64, "--workers", 1, "--pack", mini_pack_dir),
                    ("facealign", "run", HOPPER),
                    ("facealign", "fetch", vgg, "--retries", 0),
                    ("xgan", "train", "--preset", "cpu-small", "--cartoons", xgan_data / "cartoons", "--faces",
                     xgan_data / "faces", "--teacher", "", "--set", "loss.w_teach=0", "--steps", 1, "--device", "cpu")]
        for tool, *args in commands:
            proc = run(tool, *args, "--out", out, timeout=300)
            assert proc.returncode == 1, (tool, args[0], out, proc.stderr[-2000:])
            _one_error_line(proc, str(out))
            reason = proc.stderr.split("Error: ", 1)[1]
            assert any(r in reason for r in ("Not a directory", "No such file", "Permission denied",
                                             "Read-only", "Operation not permitted")), reason


def test_cartoonset_stderr_is_clean(tmp_path, mini_pack_dir):
    """With progress bars off, render, preview and stats write nothing to stderr."""
    out = tmp_path / "cartoons"
    procs = [run("cartoonset", "render", "--n", 6, "--size", 64, "--workers", 1, "--pack", mini_pack_dir, "--out", out),
             run("cartoonset", "preview", "--n", 4, "--tile", 64, "--pack", mini_pack_dir, "--set", "glasses=11",
                 "--out", tmp_path / "p.png"),
             run("cartoonset", "preview", "--vary", "eye_angle", "--tile", 64, "--pack", mini_pack_dir,
                 "--out", tmp_path / "v.png")]
    procs.append(run("cartoonset", "stats", out))
    for proc in procs:
        assert proc.returncode == 0 and proc.stderr == "", proc.args[1:3] + [proc.stderr]


def test_progress_redirected_to_a_file_writes_whole_lines(tmp_path, mini_pack_dir):
    """A bar redirected to a log (nohup) writes readable lines, not one line of carriage returns."""
    env = dict(os.environ, CARTOONSET_NO_PROGRESS="0", CARTOONSET_PROGRESS_EVERY="0", OMP_NUM_THREADS="1")
    log = tmp_path / "render.log"
    with open(log, "w") as fh:
        proc = subprocess.run([str(BIN / "cartoonset"), "render", "--n", "6", "--size", "64", "--workers", "1",
                               "--pack", str(mini_pack_dir), "--out", str(tmp_path / "c")],
                              stderr=fh, stdout=subprocess.DEVNULL, env=env, timeout=300)
    text = log.read_bytes().decode()  # read_text() would turn carriage returns into newlines
    assert proc.returncode == 0, text
    lines = [line for line in text.splitlines() if line.startswith("render")]
    assert "\r" not in text and len(lines) >= 2, repr(text)
    assert "6/6" in lines[-1] and "img/s" in lines[-1], lines
    env["CARTOONSET_PROGRESS_EVERY"] = "soon"
    bad = subprocess.run([str(BIN / "cartoonset"), "render", "--n", "2", "--size", "64", "--workers", "1",
                          "--pack", str(mini_pack_dir), "--out", str(tmp_path / "d")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "Error: CARTOONSET_PROGRESS_EVERY must be a number of seconds >= 0, got 'soon'"], bad.stderr


@pytest.mark.slow
def test_xgan_stderr_is_clean(tmp_path, xgan_data):
    """xgan train says what it does in a few lines of its own; translate adds nothing for one photo.
    No native logging, Python warnings or tracebacks from the libraries below."""
    import facealign

    run_dir = tmp_path / "run"
    train = run("xgan", "train", "--preset", "cpu-small", "--cartoons", xgan_data / "cartoons", "--faces",
                xgan_data / "faces", "--out", run_dir, "--teacher", "", "--set", "loss.w_teach=0", "--steps", 1,
                "--batch", 2, "--device", "cpu", "--set", "network.encoder=[4, 8, 8, 8]",
                "--set", "network.embedding=[16, 16]", "--set", "network.decoder=[8, 8, 8, 4]")
    assert train.returncode == 0, train.stderr
    lines = train.stderr.splitlines()
    assert len(lines) <= 6 and not [line for line in lines if FOREIGN.match(line)], train.stderr
    assert "quiet_native_logs" in facealign.__all__
    tr = run("xgan", "translate", HOPPER, "--checkpoint", run_dir / "model.pt", "--out", tmp_path / "tr", "--device", "cpu")
    assert tr.returncode == 0 and tr.stderr == "", tr.stderr
    loud = run("xgan", "translate", HOPPER, "--checkpoint", run_dir / "model.pt", "--out", tmp_path / "tr2",
               "--device", "cpu", "--verbose")  # --verbose lets the models' own logging through
    assert loud.returncode == 0 and any(FOREIGN.match(line) for line in loud.stderr.splitlines()), loud.stderr
