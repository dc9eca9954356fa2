"""The study's two batch-norm checks (docs/benchmark/study.md): score checkpoints as saved, after
re-estimating every BN's running statistics on real training batches only, and with each test batch
normalised by its own statistics (training-mode BN), on the study's track, ruler and test subset.

    python docs/benchmark/study/bn_checks.py --cartoons data/cartoonset --work results/study/data/synthetic \
        --ruler results/study/ruler.pt CHECKPOINT...
"""
import argparse
import copy
from pathlib import Path

import numpy as np
import torch

from xgan.benchmark import classifier
from xgan.benchmark.evaluate import TrainingEvaluator
from xgan.benchmark.harness import synthetic_track
from xgan.data import to_model_input
from xgan.networks import DOMAINS
from xgan.trainer import load_model

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--cartoons", type=Path, required=True)
ap.add_argument("--work", type=Path, required=True)
ap.add_argument("--ruler", type=Path, required=True)
ap.add_argument("checkpoints", nargs="+")
args = ap.parse_args()
torch.set_num_threads(1)
track = synthetic_track(args.cartoons, args.work, say=lambda m: None)
ruler, _ = classifier.load(args.ruler)
ev = TrainingEvaluator(track, ruler, 256)
cpu = torch.device("cpu")
for ck in args.checkpoints:
    model, _ = load_model(ck)
    saved = ev(model)
    batch_stats = copy.deepcopy(model).train()
    batch_stats.eval = lambda m=batch_stats: m  # evaluate() asks for eval mode: keep training-mode BN
    own = ev(batch_stats)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches below
    model.train()
    r = np.random.default_rng(0)
    ae = model.generator.autoencoder
    with torch.no_grad():
        for _ in range(50):
            b = [to_model_input(np.asarray(track.train.images[d])[np.sort(r.choice(len(track.train.images[d]), 32,
                                                                                    replace=False))], cpu) for d in DOMAINS]
            ae.decode(ae.encode(b, DOMAINS), DOMAINS)
    real_only = ev(model.eval())
    print(ck)
    for k in ("attr_acc", "fd", "l1", "hf_share", "sem_dist"):
        print(f"  {k}: as saved {saved[k]:.3f} | real-only running stats {real_only[k]:.3f} | batch statistics {own[k]:.3f}")
