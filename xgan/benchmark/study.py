"""The XGAN diagnosis study: short synthetic-track runs of a few variants, with test scores and
diagnostics logged during training, drawn as learning curves (docs/research/diagnosis.md).

    OMP_NUM_THREADS=1 python -m xgan.benchmark.study --cartoons data/cartoonset --out results/diagnosis \
        --steps 3000 --variants xgan,rec-dann,no-teach,sem-aug,wide-critic,low-sem

Each variant is a preset stack on ``cpu-small`` plus overrides (``VARIANTS``). Runs are resumable
and reused (rerun the same command); ``--variants`` may name a subset so several processes can share
the work. With ``--report`` it only draws ``curves.png`` and prints the table of the last scores.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from cartoonset import CartoonSet

#: name -> (presets stacked on cpu-small, overrides)
VARIANTS = {
    # the dlib teacher costs ~1.5 s per image on the study's shared CPU (3 h for the training
    # sources), so XGAN is studied without L_teach: "xgan" here is the no-teach ablation
    "xgan": (["no-teach"], []),
    "rec-dann": (["rec-dann"], []),
    "sem-aug": (["no-teach"], ["loss.sem_blur=1.0", "loss.sem_noise=0.1"]),
    "wide-critic": (["no-teach"], ["network.discriminator=[32, 64, 64, 64]"]),
    "low-sem": (["no-teach"], ["loss.w_sem=0.1"]),
    "lsgan": (["no-teach"], ["loss.gan_loss=lsgan"]),
    "combo": (["no-teach"], ["loss.sem_blur=1.0", "loss.sem_noise=0.1", "network.discriminator=[32, 64, 64, 64]"]),
    "with-teach": ([], []),
    "xgan-plus": (["xgan-plus"], []),
    # L_rec + L_dann plus L_sem on blurred and noised translations, no critic: does the semantic term
    # add to the ablation once the adversarial one is out of the way?
    "rec-dann-sem": (["rec-dann"], ["loss.w_sem=1.0", "loss.sem_blur=1.0", "loss.sem_noise=0.1"]),
    # the same with L_sem's gradient stopped at the translations: it aligns the encoders on them and
    # gives the decoders no reason to hide a code in what they draw
    "rec-dann-sem-detach": (["rec-dann"], ["loss.w_sem=1.0", "loss.sem_detach=true"]),
    # XGAN (no teacher) whose L_sem and L_gan wait for the ablation's translations to form: off until
    # step 5000 (where L_rec + L_dann's are clean cartoons), then rising linearly to the paper's weights
    # at 15000, so the curve against rec-dann's reads as a dose-response of the two terms
    "ramped": (["no-teach"], ["loss.sem_ramp=[5000, 15000]", "loss.gan_ramp=[5000, 15000]"]),
    # the ramp's two terms apart, each added alone to L_rec + L_dann at the paper's weight: which of
    # them costs the translations their attributes?
    "sem-only": (["no-teach", "no-gan"], []),
    "gan-only": (["no-teach", "no-sem"], []),
    # XGAN (no teacher) whose critic has spectral norm instead of batch norm: it can no longer judge a
    # batch of translations by that batch's own statistics
    "spectral-critic": (["no-teach"], ["network.critic_norm=spectral"]),
    # L_sem in its contrastive form: a translation's re-encoding must be nearer its own source than the
    # batch's other sources, which narrowing the embedding (how every cosine L_sem run met it) cannot do
    "sem-contrastive": (["rec-dann"], ["loss.w_sem=1.0", "loss.sem_form=contrastive"]),
    # at weight 1 its gradient on the shared layers is 5-25x the reconstruction's (gn_sem against gn_rec,
    # training batches); at 0.1 it is near the cosine form's at weight 1
    "sem-contrastive-0.1": (["rec-dann"], ["loss.w_sem=0.1", "loss.sem_form=contrastive"]),
    "xgan-contrastive": (["no-teach"], ["loss.w_sem=0.1", "loss.sem_form=contrastive"]),
    # with the contrastive L_sem the critic still costs ~0.06 attribute accuracy while it sits at chance:
    # the same with a spectrally normalised critic, which cannot judge a batch of fakes by its own statistics
    "xgan-contrastive-sn": (["no-teach"], ["loss.w_sem=0.1", "loss.sem_form=contrastive",
                                           "network.critic_norm=spectral"]),
    # without L_sem the critic inverts skin tone (no-sem, rho -0.69 at 20,000 steps): an inversion is a change
    # of the embedding's meaning, which the critic can only make through the encoders and shared layers.
    # Here L_gan trains the cartoon decoder's private layers alone (no-teach otherwise, the benchmark's
    # no-teach seed 1 its pair)
    "gan-detach": (["no-teach"], ["loss.gan_detach=true"]),
    # it did not help (the critic won outright and the translations collapsed): the critic's cost is not its
    # reach. Its weight, then: no-teach with L_gan at a fifth of the paper's (no-gan, weight 0, ends 0.13 above
    # no-teach at 20,000 steps)
    "low-gan": (["no-teach"], ["loss.w_gan=0.02"]),
    # no XGAN term beyond L_rec + L_dann has raised attribute accuracy, while CycleGAN's pixel cycle reached
    # L_rec + L_dann's final score after a quarter of the budget (curves-baselines.png). The cycle the paper
    # leaves out (it holds a pixel cycle too strict across faces and cartoons), on the ablation and on XGAN
    "rec-dann-cycle": (["rec-dann"], ["loss.w_cycle=1.0"]),
    "cycle": (["no-teach"], ["loss.w_cycle=1.0"]),
    # issue 40's screens (5000 steps): what the critic and the decoders are, one ingredient at a time on the
    # paper's objective (no-teach) and on L_rec + L_dann, then together. A critic that judges real and fake
    # as one batch (its batch norm sees both) with R1; a PatchGAN without batch norm (spectral norm, hinge)
    "joint-r1": (["no-teach"], ["network.critic=joint", "loss.r1=1.0"]),
    "patch": (["no-teach"], ["network.critic=patch", "network.critic_norm=spectral", "loss.gan_loss=hinge"]),
    # per-sample normalisation in encoders and decoders: training and test compute the same function
    "group-norm": (["no-teach"], ["network.norm=group"]),
    "rec-dann-group": (["rec-dann"], ["network.norm=group"]),
    # resize-convolution decoders, only beside a critic that can see (alone they let the paper's critic win),
    # with every other ingredient: per-sample norms and an EMA generator (0.999) for what is scored and drawn
    "joint-r1-group-resize": (["no-teach"], ["network.critic=joint", "loss.r1=1.0", "network.norm=group",
                                             "network.upsample=resize", "train.ema=0.999"]),
    "patch-group-resize": (["no-teach"], ["network.critic=patch", "network.critic_norm=spectral",
                                          "loss.gan_loss=hinge", "network.norm=group", "network.upsample=resize",
                                          "train.ema=0.999"]),
    "rec-dann-group-resize": (["rec-dann"], ["network.norm=group", "network.upsample=resize", "train.ema=0.999"]),
    # staged: L_rec + L_dann alone to step 1500, then L_sem and L_gan ramped in to full weight at 3000
    "staged-joint-r1-group": (["no-teach"], ["network.critic=joint", "loss.r1=1.0", "network.norm=group",
                                             "loss.sem_ramp=[1500, 3000]", "loss.gan_ramp=[1500, 3000]"]),
    "staged-patch-group": (["no-teach"], ["network.critic=patch", "network.critic_norm=spectral", "loss.gan_loss=hinge",
                                          "network.norm=group", "loss.sem_ramp=[1500, 3000]",
                                          "loss.gan_ramp=[1500, 3000]"]),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cartoons", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, help="where the synthetic track's source renders live (default OUT/data)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--track", default="synthetic", choices=("synthetic", "synthetic-matched", "synthetic-hard"),
                    help="the paired track the variants train on (runs go to OUT/<variant> on synthetic, else "
                         "OUT/<track>/<variant>)")
    ap.add_argument("--variants", default="xgan,rec-dann")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-count", type=int, default=256)
    ap.add_argument("--diagnose-every", type=int, default=50)
    ap.add_argument("--ruler-steps", type=int, default=2500)
    ap.add_argument("--ruler-width", type=int, default=32)
    ap.add_argument("--ruler-batch", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--no-eval", action="store_true",
                    help="train without scoring (keep every checkpoint); score them later with --score")
    ap.add_argument("--score", action="store_true", help="score the runs' checkpoints into scores.csv, then report")
    ap.add_argument("--report", action="store_true", help="only draw the curves and print the table")
    args = ap.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant {unknown[0]}; variants: {', '.join(VARIANTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    runs = args.out if args.track == "synthetic" else args.out / args.track
    if args.report:
        return report(runs, names)

    from xgan.benchmark import classifier
    from xgan.benchmark.evaluate import TrainingEvaluator, score_checkpoints
    from xgan.benchmark.harness import synthetic_track

    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    track = synthetic_track(args.cartoons, args.work or args.out / "data", say=say, name=args.track)
    if args.no_eval:
        for name in names:
            run_variant(args, name, track, None, say)
        return 0
    attrs = {s: CartoonSet(args.cartoons, split=s, target_type=None).attrs for s in ("train", "test")}
    ruler, rep = classifier.train_or_load(args.out / "ruler.pt", np.asarray(track.train.images["cartoon"]),
                                          attrs["train"], np.asarray(track.test.images["cartoon"]), attrs["test"],
                                          steps=args.ruler_steps, seed=0, say=say, width=args.ruler_width,
                                          batch=args.ruler_batch)
    say(f"ruler: clean {rep.accuracy['mean']:.3f}; degraded " + ", ".join(f"{k} {v:.3f}" for k, v in rep.degraded.items()))
    evaluator = TrainingEvaluator(track, ruler, args.eval_count)
    for name in names:
        if args.score:
            score_checkpoints(runs / name, evaluator, say)
        else:
            run_variant(args, name, track, evaluator, say)
    return report(runs, names)


def run_variant(args, name: str, track, evaluator, say) -> None:
    from xgan.config import resolve
    from xgan.trainer import train

    presets, overrides = VARIANTS[name]
    extra = [f"train.steps={args.steps}", f"train.seed={args.seed}", f"train.batch={args.batch}",
             f"train.diagnose_every={args.diagnose_every}", f"eval.every={0 if args.no_eval else args.eval_every}",
             f"eval.count={args.eval_count}", f"train.checkpoint_every={args.eval_every}"]
    if args.no_eval:
        extra.append("train.keep_checkpoints=1000")  # every checkpoint stays, to be scored afterwards
    config = resolve(["cpu-small", *presets], overrides + extra)
    t0 = time.perf_counter()
    say(f"[{name}] training {args.steps} steps")
    runs = args.out if args.track == "synthetic" else args.out / args.track
    train(config, track.train, track.test, runs / name, device="cpu", resume=True, evaluator=evaluator,
          show_progress=False, tensorboard=False, say=say)
    say(f"[{name}] done in {(time.perf_counter() - t0) / 60:.1f} min")
    if evaluator is not None:
        from xgan.benchmark.runs import record, run_row

        row = run_row(runs / name, args.track, name)
        if row is not None:
            say(f"[{name}] recorded in {record(args.out / 'results.csv', row)}")


def report(out: Path, names: list[str]) -> int:
    from xgan.benchmark.curves import PANELS, learning_curves, read_curves

    runs = {n: [out / n] for n in names if (out / n / "log.csv").is_file()}
    path = learning_curves(runs, out / "curves.png", title="synthetic track, cpu-small, seed 1")
    diag = [(c, c) for c in ("gn_rec", "gn_dann", "gn_sem", "gn_gan", "gn_teach", "bn_gap_enc", "bn_gap_dec",
                             "d_face2cartoon_acc", "dann_acc")]
    learning_curves(runs, out / "diagnostics.png", panels=diag, title="diagnostics (train batches)")
    cols = [c for c, _ in PANELS]
    table = {}
    for n, (d,) in runs.items():
        curves = read_curves(d, cols)
        table[n] = {c[5:]: (int(s[-1]), float(v[-1])) for c, (s, v) in curves.items()}
    print(json.dumps(table, indent=1))
    print(f"curves: {path}")
    (out / "table.json").write_text(json.dumps(table, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
