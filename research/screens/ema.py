"""What the EMA generator changes at a run's last checkpoint: the same scores of its raw and of its
averaged weights (the run's own log holds only the averaged ones).

    PYTHONPATH=. .venv/bin/python research/screens/ema.py CARTOONS SCREEN VARIANT...
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from xgan import checkpoint as ckpt
from xgan.benchmark import classifier
from xgan.benchmark.evaluate import TrainingEvaluator
from xgan.benchmark.harness import synthetic_track
from xgan.models import build_model
from xgan.trainer import GeneratorEMA


def main(cartoons: str, screen: str, *variants: str) -> int:
    root = Path(screen)
    track = synthetic_track(Path(cartoons), root / "data", say=lambda _m: None)
    ruler, _ = classifier.load(root / "ruler.pt", image_size=64)
    evaluator = TrainingEvaluator(track, ruler, 256)
    out = {}
    for name in variants:
        state, path = ckpt.load_newest_intact(root / name / "checkpoints", lambda _m: None)
        model = build_model(state["config"], **state.get("model_extra", {}))
        ckpt.load_networks(model.networks(), state["networks"], path)
        model.eval()
        with torch.no_grad():
            raw = evaluator(model)
            ema = GeneratorEMA(model, float(state["config"]["train"]["ema"]))
            ema.load_state_dict(state["ema"], str(path))
            ema.copy_to_live()
            averaged = evaluator(model)
        out[name] = {"step": state["step"], "raw": raw, "ema": averaged}
        keys = ("attr_acc", "fd", "l1", "hf_share", "detect")
        print(f"{name} step {state['step']}: " + "; ".join(
            f"{k} raw {raw[k]:.3f} / EMA {averaged[k]:.3f}" for k in keys if k in raw))
    (Path(__file__).resolve().parents[2] / "docs" / "research" / "screens" / "ema.json").write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
