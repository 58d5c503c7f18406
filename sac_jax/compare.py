"""Is configuration B really better than A, or is the difference seed noise?

    python -m sac_jax.compare RUNS_A RUNS_B [--out compare.png] [--names A B]

RUNS_A and RUNS_B are run folders (a `train.py --workdir`, one or several seeds) or glob patterns
over them (quote them: 'runs/hopper_doubleq_seed*'). For each group it takes every seed's curve
at the eval steps all seeds of both groups reached, and compares two scores per seed: the final
evaluation, and the area under the curve (the mean return over those steps). For each it reports
the difference of the means and of the IQMs (B - A) with 95% bootstrap confidence intervals over
seeds, the probability that a seed of B beats a seed of A, and a verdict: a difference is
"detected" when the interval of the difference of means excludes 0. When none is, it estimates
how many seeds per group would resolve the observed difference (80% power, 5% level).
"""

import argparse
import glob
import os
from collections.abc import Sequence

import numpy as np

from sac_jax import stats
from sac_jax.plot import Curve, plot_curves, read_evals


def read_group(patterns: Sequence[str]) -> list[Curve]:
    """Every seed's curve of the run folders that `patterns` name or match."""
    dirs = sorted({d for p in patterns for d in (glob.glob(p) or [p])})
    curves = []
    for d in dirs:
        if not os.path.isdir(d):
            raise FileNotFoundError(f"{d!r}: no such run folder, and the pattern matched none")
        points = read_evals(d)
        if len(points) > 1:
            raise ValueError(
                f"{d!r} holds a sweep ({sorted(points)}): compare one sweep point's folder"
            )
        curves += next(iter(points.values()))
    return curves


def scores(curves: list[Curve], steps: np.ndarray) -> dict[str, np.ndarray]:
    """Per-seed final return (at the last of `steps`) and area under the curve (mean over them)."""
    values = np.stack([c.returns[np.searchsorted(c.steps, steps)] for c in curves])
    return {"final": values[:, -1], "AUC": values.mean(axis=1)}


def verdict(low: float, high: float, names=("A", "B")) -> str:
    if low > 0:
        return f"{names[1]} better"
    if high < 0:
        return f"{names[0]} better"
    return "no difference detected"


def compare(a: list[Curve], b: list[Curve], names=("A", "B"), reps: int = 10_000) -> dict:
    """Per score ('final', 'AUC'): the differences, P(B > A), the verdict, and (when no difference
    is detected) the seeds per group that would resolve the observed one."""
    steps = a[0].steps
    for c in a[1:] + b:
        steps = np.intersect1d(steps, c.steps)
    if steps.size == 0:
        raise ValueError("the two groups share no evaluation step")
    if min(len(a), len(b)) < 2:
        raise ValueError(f"need at least 2 seeds per group, got {len(a)} and {len(b)}")
    sa, sb = scores(a, steps), scores(b, steps)
    report = {"step": int(steps[-1]), "seeds": (len(a), len(b))}
    for key in sa:
        mean = stats.difference_ci(sa[key], sb[key], np.mean, reps)
        iqm = stats.difference_ci(sa[key], sb[key], stats.iqm, reps)
        poi = stats.probability_of_improvement_ci(sb[key], sa[key], reps=min(reps, 2000))
        result = dict(mean_a=sa[key].mean(), mean_b=sb[key].mean(), mean=mean, iqm=iqm, poi=poi)
        result["verdict"] = verdict(mean[1], mean[2], names)
        if result["verdict"] == "no difference detected":
            result["seeds_needed"] = stats.seeds_to_resolve(sa[key], sb[key])
        report[key] = result
    return report


def format_report(report: dict, names=("A", "B")) -> str:
    a, b = names
    seeds_a, seeds_b = report["seeds"]
    lines = [f"{a}: {seeds_a} seeds, {b}: {seeds_b} seeds, to step {report['step']}"]
    for key in ("final", "AUC"):
        r = report[key]
        lines += [
            f"{key}: {a} {r['mean_a']:.1f}, {b} {r['mean_b']:.1f}",
            f"  {b} - {a}, mean: {r['mean'][0]:+.1f}  95% CI [{r['mean'][1]:+.1f}, {r['mean'][2]:+.1f}]",
            f"  {b} - {a}, IQM:  {r['iqm'][0]:+.1f}  95% CI [{r['iqm'][1]:+.1f}, {r['iqm'][2]:+.1f}]",
            f"  P({b} > {a}) = {r['poi'][0]:.2f}  95% CI [{r['poi'][1]:.2f}, {r['poi'][2]:.2f}]",
            f"  verdict: {r['verdict']}",
        ]
        if "seeds_needed" in r:
            lines.append(
                f"  about {np.ceil(r['seeds_needed']):.0f} seeds per group would resolve a "
                "difference this size (80% power, 5% level)"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sac_jax.compare", description=__doc__)
    parser.add_argument("runs_a", help="run folder or glob pattern of configuration A")
    parser.add_argument("runs_b", help="run folder or glob pattern of configuration B")
    parser.add_argument("--names", nargs=2, default=("A", "B"), help="labels for A and B")
    parser.add_argument("--out", default="compare.png", help="PNG of both curves")
    parser.add_argument("--reps", type=int, default=10_000, help="bootstrap resamples")
    args = parser.parse_args(argv)
    try:
        groups = [read_group([args.runs_a]), read_group([args.runs_b])]
        report = compare(*groups, names=tuple(args.names), reps=args.reps)
    except (FileNotFoundError, ValueError) as e:
        parser.exit(2, f"error: {e}\n")
    print(format_report(report, tuple(args.names)))
    plot_curves(dict(zip(args.names, groups)), args.out, title=" vs ".join(args.names))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
