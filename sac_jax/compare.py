"""Is configuration B really better than A, or is the difference seed noise?

    python -m sac_jax.compare RUNS_A RUNS_B [--out compare.png] [--names A B] [--metric M]

RUNS_A and RUNS_B are run folders (a `train.py --workdir`, one or several seeds) or glob patterns
over them (quote them: 'runs/hopper_doubleq_seed*'); `FOLDER:POINT` takes one sweep point of a
sweep's folder, e.g. `runs/sweep:critic_lr=0.0003 runs/sweep:critic_lr=0.001`; `EVALS.csv:GROUP`
takes one group of an evals.csv that `sac_jax.benchmark` wrote (a committed baseline whose run
folders are gone), named as its table names it, e.g.
`docs/results/mujoco/evals.csv:"Walker2d-v5 critic_lr=0.001"`. For each group it
takes every seed's curve at the eval steps all seeds of both groups reached, and compares two
scores per seed: the final evaluation, and the area under the curve (the mean return over those
steps). For each it reports the difference of the means and of the IQMs (B - A) with 95% bootstrap
confidence intervals over seeds, the ratio of the means (B / A, when A's scores are positive) with
its interval, the probability that a seed of B beats a seed of A, and a verdict:
a difference is "detected" when the interval of the difference of means excludes 0. When none is,
it estimates how many seeds per group would resolve the observed difference (80% power, 5% level).

`--last N` makes the final score the mean of each seed's last N shared evaluations, steadier on
tasks whose single evaluations swing. `--metric` compares another eval.csv column the same way,
e.g. `q_bias_normalized` (the critics' overestimation, sac_jax.bias); the verdict then says which
is higher, not which is better.

For returns whose final scores in A are all positive it also measures sample efficiency: the env
steps each group's mean curve needs to reach a fraction (`--reach`, default 0.9) of A's final
mean, and B's steps over A's with a 95% bootstrap interval ("B faster" when it lies below 1).
"""

import argparse
import glob
import os
from collections.abc import Sequence

import numpy as np

from sac_jax import stats
from sac_jax.plot import Curve, plot_curves, read_evals
from sac_jax.trials import read_evals_csv

EVALS = ".csv:"  # RUNS_A/RUNS_B "path/evals.csv:GROUP"


def read_group(patterns: Sequence[str], metric: str = "return_mean") -> list[Curve]:
    """Every seed's curve of `metric` in the run folders that `patterns` name or match; a pattern
    `FOLDER:POINT` takes one sweep point of a sweep's folders (e.g. `runs/sweep:critic_lr=0.001`)."""
    curves = []
    for pattern in patterns:
        if EVALS in pattern:
            curves += read_evals_group(*pattern.split(EVALS, 1), metric)
            continue
        path, point = pattern, None
        if ":" in pattern and "=" in pattern.rsplit(":", 1)[1]:
            path, point = pattern.rsplit(":", 1)
        for d in sorted(glob.glob(path) or [path]):
            curves += read_point(d, point, metric)
    return curves


def read_evals_group(stem: str, group: str, metric: str) -> list[Curve]:
    """The seeds' curves of `group` ("ENV[ SETTING]") in the evals.csv `stem`.csv."""
    path = stem + ".csv"
    if metric != "return_mean":
        raise ValueError(f"{path}: an evals.csv holds return_mean only, not {metric!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r}: no such evals.csv")
    trials = read_evals_csv(path)
    curves = [t.curve for t in sorted(trials, key=lambda t: t.seed) if t.group == group]
    if not curves:
        groups = sorted({t.group for t in trials})
        raise ValueError(f"{path} has no group {group!r}; it has {groups}")
    return curves


def read_point(run_dir: str, point: str | None, metric: str) -> list[Curve]:
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"{run_dir!r}: no such run folder, and the pattern matched none")
    points = read_evals(run_dir, metric)
    if not points:
        raise ValueError(f"{run_dir!r}: its eval.csv has no {metric!r} values")
    if point is None and len(points) > 1:
        raise ValueError(
            f"{run_dir!r} holds a sweep ({sorted(points)}): compare one point, e.g. "
            f"'{run_dir}:{sorted(points)[0]}'"
        )
    if point is not None and point not in points:
        raise ValueError(f"{run_dir!r} has no sweep point {point!r}; it has {sorted(points)}")
    return points[point] if point is not None else next(iter(points.values()))


def values_at(curves: list[Curve], steps: np.ndarray) -> np.ndarray:
    """(seeds, steps): each seed's evaluation at each of `steps`."""
    return np.stack([c.returns[np.searchsorted(c.steps, steps)] for c in curves])


def scores(values: np.ndarray, last: int = 1) -> dict[str, np.ndarray]:
    """Per seed: the final return (the mean of the last `last` evaluations) and the area under
    the curve (the mean over all of them)."""
    return {"final": values[:, -last:].mean(axis=1), "AUC": values.mean(axis=1)}


def reach_steps(values: np.ndarray, steps: np.ndarray, threshold) -> np.ndarray:
    """The first of `steps` at which the seeds' mean curve (values: (..., seeds, steps)) reaches
    `threshold` (one per leading index); inf where it never does."""
    hit = values.mean(axis=-2) >= np.asarray(threshold)[..., None]
    return np.where(hit.any(axis=-1), steps[hit.argmax(axis=-1)], np.inf)


def reach(
    values_a: np.ndarray, values_b: np.ndarray, steps, fraction: float, last: int, reps: int
) -> dict:
    """Sample efficiency: the env steps each group's mean curve needs to reach `fraction` of A's
    final mean return, and B's steps over A's with a 95% bootstrap interval over seeds (both
    groups' seeds and with them the threshold redrawn; inf where B's curve never gets there).
    A's final scores must be positive: then every resample of A reaches its own threshold."""
    threshold = fraction * values_a[:, -last:].mean()
    rng = np.random.default_rng(0)
    draw_a = values_a[rng.integers(0, len(values_a), (reps, len(values_a)))]
    draw_b = values_b[rng.integers(0, len(values_b), (reps, len(values_b)))]
    draw_threshold = fraction * draw_a[..., -last:].mean(axis=(1, 2))
    ratios = reach_steps(draw_b, steps, draw_threshold) / reach_steps(draw_a, steps, draw_threshold)
    low, high = np.percentile(ratios, [2.5, 97.5], method="nearest")
    step_a, step_b = (reach_steps(v, steps, threshold) for v in (values_a, values_b))
    return dict(
        fraction=fraction,
        threshold=threshold,
        steps=(step_a, step_b),
        ratio=(step_b / step_a, low, high),
    )


def verdict(low: float, high: float, names=("A", "B"), higher: str = "better") -> str:
    if low > 0:
        return f"{names[1]} {higher}"
    if high < 0:
        return f"{names[0]} {higher}"
    return "no difference detected"


def compare(
    a: list[Curve],
    b: list[Curve],
    names=("A", "B"),
    reps: int = 10_000,
    higher: str = "better",
    last: int = 1,
    reach_fraction: float | None = None,
) -> dict:
    """Per score ('final': the mean of the last `last` shared evaluations, 'AUC'): the
    differences, P(B > A), the verdict (`higher`: the word for a larger value), and (when no
    difference is detected) the seeds per group that would resolve the observed one. With
    `reach_fraction`, when every seed of A ends positive, also `reach` (above)."""
    steps = a[0].steps
    for c in a[1:] + b:
        steps = np.intersect1d(steps, c.steps)
    if steps.size == 0:
        raise ValueError("the two groups share no evaluation step")
    if min(len(a), len(b)) < 2:
        raise ValueError(f"need at least 2 seeds per group, got {len(a)} and {len(b)}")
    if reach_fraction is not None and not 0 < reach_fraction <= 1:
        raise ValueError(f"--reach {reach_fraction}: must be in (0, 1], a fraction of A's final")
    if not 1 <= last <= steps.size:
        raise ValueError(f"--last {last}: must be 1 to {steps.size}, the evaluations both share")
    values_a, values_b = values_at(a, steps), values_at(b, steps)
    sa, sb = scores(values_a, last), scores(values_b, last)
    report = {"step": int(steps[-1]), "seeds": (len(a), len(b)), "final_from": int(steps[-last])}
    for key in sa:
        mean = stats.difference_ci(sa[key], sb[key], np.mean, reps)
        iqm = stats.difference_ci(sa[key], sb[key], stats.iqm, reps)
        poi = stats.probability_of_improvement_ci(sb[key], sa[key], reps=min(reps, 2000))
        result = dict(mean_a=sa[key].mean(), mean_b=sb[key].mean(), mean=mean, iqm=iqm, poi=poi)
        if sa[key].min() > 0:
            result["ratio"] = stats.ratio_ci(sa[key], sb[key], np.mean, reps)
        result["verdict"] = verdict(mean[1], mean[2], names, higher)
        if result["verdict"] == "no difference detected":
            result["seeds_needed"] = stats.seeds_to_resolve(sa[key], sb[key])
        report[key] = result
    if reach_fraction is not None and sa["final"].min() > 0:
        report["reach"] = reach(values_a, values_b, steps, reach_fraction, last, reps)
    return report


def times(ratio: float) -> str:
    return f"{ratio:.3g}x" if np.isfinite(ratio) else "never"


def format_report(report: dict, names=("A", "B")) -> str:
    a, b = names
    seeds_a, seeds_b = report["seeds"]
    lines = [f"{a}: {seeds_a} seeds, {b}: {seeds_b} seeds, to step {report['step']}"]
    final = "final"
    if report["final_from"] < report["step"]:
        final = f"final (mean of the evaluations at steps {report['final_from']}-{report['step']})"
    for key, label in (("final", final), ("AUC", "AUC")):
        r = report[key]
        lines += [
            f"{label}: {a} {r['mean_a']:.4g}, {b} {r['mean_b']:.4g}",
            f"  {b} - {a}, mean: {r['mean'][0]:+.4g}  95% CI [{r['mean'][1]:+.4g}, {r['mean'][2]:+.4g}]",
            f"  {b} - {a}, IQM:  {r['iqm'][0]:+.4g}  95% CI [{r['iqm'][1]:+.4g}, {r['iqm'][2]:+.4g}]",
        ]
        if "ratio" in r:
            low, high = r["ratio"][1:]
            lines.append(
                f"  {b} / {a}, mean: {r['ratio'][0]:.3g}x  95% CI [{low:.3g}x, {high:.3g}x]"
            )
        lines += [
            f"  P({b} > {a}) = {r['poi'][0]:.2f}  95% CI [{r['poi'][1]:.2f}, {r['poi'][2]:.2f}]",
            f"  verdict: {r['verdict']}",
        ]
        if "seeds_needed" in r:
            lines.append(
                f"  about {np.ceil(r['seeds_needed']):.0f} seeds per group would resolve a "
                "difference this size (80% power, 5% level)"
            )
    if "reach" in report:
        r = report["reach"]
        step_a, step_b = (f"{s:.0f}" if np.isfinite(s) else "not reached" for s in r["steps"])
        ratio, low, high = r["ratio"]
        faster = "no difference detected"
        if high < 1 or low > 1:
            faster = f"{b if high < 1 else a} faster"
        lines += [
            f"steps to {r['fraction']:g} of {a}'s final ({r['threshold']:.4g}): "
            f"{a} {step_a}, {b} {step_b}",
            f"  {b} / {a}: {times(ratio)}  95% CI [{times(low)}, {times(high)}]",
            f"  verdict: {faster}",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sac_jax.compare", description=__doc__)
    parser.add_argument("runs_a", help="run folder or glob pattern of configuration A")
    parser.add_argument("runs_b", help="run folder or glob pattern of configuration B")
    parser.add_argument("--names", nargs=2, default=("A", "B"), help="labels for A and B")
    parser.add_argument("--out", default="compare.png", help="PNG of both curves")
    parser.add_argument("--reps", type=int, default=10_000, help="bootstrap resamples")
    parser.add_argument(
        "--metric", default="return_mean", help="eval.csv column to compare (default: return)"
    )
    parser.add_argument(
        "--last",
        type=int,
        default=1,
        help="the final score is the mean of each seed's last N shared evaluations (default 1)",
    )
    parser.add_argument(
        "--reach",
        type=float,
        default=0.9,
        help="report the steps each mean curve needs to reach this fraction of A's final return",
    )
    args = parser.parse_args(argv)
    returns = args.metric == "return_mean"
    try:
        groups = [read_group([p], args.metric) for p in (args.runs_a, args.runs_b)]
        higher = "better" if returns else "higher"
        reach_fraction = args.reach if returns else None
        report = compare(*groups, tuple(args.names), args.reps, higher, args.last, reach_fraction)
    except (FileNotFoundError, ValueError) as e:
        parser.exit(2, f"error: {e}\n")
    print(format_report(report, tuple(args.names)))
    ylabel = "eval return (deterministic)" if returns else args.metric
    plot_curves(
        dict(zip(args.names, groups)), args.out, title=" vs ".join(args.names), ylabel=ylabel
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
