"""Learning curves from run directories: mean eval return vs env steps, with the spread over seeds.

    python -m sac_jax.plot RUN_DIR [RUN_DIR ...] --out FILE.png [--reference STEP:VALUE:LABEL ...]

Runs are grouped by the `env_id` in their `config.json` (written by `sac_jax.loop.train`), so the
seeds of one task become one curve; a sweep's points are separate curves. `--labels`, one per
RUN_DIR, groups by those instead: configurations of one task, e.g. single vs clipped double-Q.
The benchmark draws its per-env figures with `plot_curves`.
"""

import argparse
import itertools
import json
import os
from collections.abc import Sequence
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")  # headless: no display on the training machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sac_jax.config import SWEEPABLE  # noqa: E402
from sac_jax.references import AnchorCurve, Reference  # noqa: E402
from sac_jax.workdir import CURVES, EVAL_CSV, config_path  # noqa: E402
from sac_jax.writers import read_rows  # noqa: E402

SPREADS = ("std", "minmax")


class Curve(NamedTuple):
    """One run's deterministic eval returns at the env steps they were taken."""

    steps: np.ndarray
    returns: np.ndarray


class SeedCurve(NamedTuple):
    """One trial's curve in a run folder: its sweep point (e.g. `tau=0.01`; "" without a sweep)
    and its seed (None in runs that predate `num_seeds`)."""

    point: str
    seed: int | None
    curve: Curve


def read_seed_curves(run_dir: str, metric: str = "return_mean") -> list[SeedCurve]:
    """The run's eval rows (`run_dir/eval.csv` and, after `--distributed`, each
    `run_dir/processP/eval.csv`) as one curve per trial. Rows are tagged with `seed` (in runs
    since `num_seeds`) and the swept fields' values (`sac_jax.sweep.Trial.tags`). `metric`: the
    column read, e.g. `q_bias_normalized`; rows without it are skipped."""
    rows = [r for r in read_rows(run_dir, EVAL_CSV) if r.get(metric) not in ("", None)]
    swept = [k for k in (rows[0] if rows else {}) if k in SWEEPABLE]
    by_trial: dict[tuple, list[dict]] = {}
    for r in rows:
        by_trial.setdefault((tuple(r[k] for k in swept), r.get("seed")), []).append(r)
    return [
        SeedCurve(
            ",".join(f"{k}={v}" for k, v in zip(swept, point)),
            None if seed in (None, "") else int(seed),
            Curve(np.array([int(r["step"]) for r in rs]), np.array([float(r[metric]) for r in rs])),
        )
        for (point, seed), rs in by_trial.items()
    ]


def read_evals(run_dir: str, metric: str = "return_mean") -> dict[str, list[Curve]]:
    """`read_seed_curves` by sweep point: point label -> one curve per seed."""
    points: dict[str, list[Curve]] = {}
    for trial in read_seed_curves(run_dir, metric):
        points.setdefault(trial.point, []).append(trial.curve)
    return points


def read_run_config(run_dir: str) -> dict:
    """The resolved config a run saved; empty if the run predates `config.json`."""
    path = config_path(run_dir)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def run_label(run_dir: str) -> str:
    """The env id a run trained on, else its parent folder's name (seeds usually share a parent)."""
    parent = os.path.basename(os.path.dirname(os.path.abspath(run_dir)))
    return read_run_config(run_dir).get("env_id", parent)


def seed_stats(curves: Sequence[Curve], spread: str = "std"):
    """Mean and spread over seeds at the eval steps every seed reached.

    Only shared steps are used, so an unfinished seed shortens the curve instead of silently
    changing which seeds the mean is taken over. Returns (steps, mean, low, high).
    """
    if spread not in SPREADS:
        raise ValueError(f"spread={spread!r}; allowed: {SPREADS}")
    steps = curves[0].steps
    for c in curves[1:]:
        steps = np.intersect1d(steps, c.steps)
    values = np.stack([c.returns[np.searchsorted(c.steps, steps)] for c in curves])
    mean = values.mean(axis=0)
    if spread == "std":
        std = values.std(axis=0)
        return steps, mean, mean - std, mean + std
    return steps, mean, values.min(axis=0), values.max(axis=0)


def plot_curves(
    groups: dict[str, Sequence[Curve]],
    out: str,
    references: Sequence[Reference] = (),
    spread: str = "std",
    title: str | None = None,
    anchors: dict[str, AnchorCurve] | None = None,
    ylabel: str = "eval return (deterministic)",
) -> None:
    """One line per group (mean over its seeds), a shaded band for the spread, references as
    points, and published curves (`anchors`, label -> curve) as thin dashed lines up to the last
    step drawn for our runs."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    last = max(c.steps.max() for curves in groups.values() for c in curves)
    for (label, anchor), style in zip((anchors or {}).items(), itertools.cycle(("--", ":", "-."))):
        keep = anchor.steps <= last
        ax.plot(
            anchor.steps[keep],
            anchor.mean[keep],
            style,
            color="gray",
            linewidth=1,
            label=f"{label} ({anchor.seeds} seeds, mean)",
        )
    for label, curves in groups.items():
        steps, mean, low, high = seed_stats(curves, spread)
        band = "+-1 std" if spread == "std" else "min-max"
        (line,) = ax.plot(steps, mean, marker=".", label=f"{label} ({len(curves)} seeds, {band})")
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
    by_source: dict[str, list[Reference]] = {}
    for ref in references:
        by_source.setdefault(ref.label, []).append(ref)
    for marker, (source, refs) in zip(itertools.cycle("osD^vP*X"), by_source.items()):
        label = "_nolegend_" if source in (anchors or {}) else source  # named by its curve
        ax.plot([r.step for r in refs], [r.value for r in refs], marker, color="black", label=label)
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")  # learning curves rise: that corner is free
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def group_runs(
    run_dirs: Sequence[str], metric: str = "return_mean", labels: Sequence[str] | None = None
) -> dict[str, list[Curve]]:
    """Curves by task, or by `labels` (one per run dir), and by sweep point within a sweep: the
    seeds of each become one line."""
    groups: dict[str, list[Curve]] = {}
    for i, run_dir in enumerate(run_dirs):
        name = labels[i] if labels else run_label(run_dir)
        for point, curves in read_evals(run_dir, metric).items():
            label = f"{name} {point}" if point else name
            groups.setdefault(label, []).extend(curves)
    return groups


def draw_run(run_dir: str) -> str:
    """RUN_DIR/curves.png: the run's eval returns so far, a line per sweep point (band over its
    seeds). The loop redraws it after every evaluation, so a run in progress can be glanced at."""
    out = os.path.join(run_dir, CURVES)
    title = os.path.basename(os.path.abspath(run_dir))
    plot_curves(group_runs([run_dir]), out, title=title)
    return out


def parse_reference(text: str) -> Reference:
    """`STEP:VALUE:LABEL`, e.g. `20000:-150:SB3 RL Zoo` (the label may contain colons)."""
    try:
        step, value, label = text.split(":", 2)
        return Reference(int(float(step)), float(value), label)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--reference {text!r}: expected STEP:VALUE:LABEL") from e


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sac_jax.plot", description=__doc__.split("\n")[0]
    )
    parser.add_argument("run_dirs", nargs="+", help="run directories (the --workdir of train.py)")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--reference", type=parse_reference, action="append", default=[])
    parser.add_argument("--spread", choices=SPREADS, default="std")
    parser.add_argument("--title")
    parser.add_argument(
        "--metric",
        default="return_mean",
        help="eval.csv column to draw, e.g. q_bias or q_bias_normalized (sac_jax.bias)",
    )
    parser.add_argument("--labels", nargs="+", help="a curve label per RUN_DIR (default: env id)")
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.run_dirs):
        parser.error(f"--labels gives {len(args.labels)} labels for {len(args.run_dirs)} run dirs")
    groups = group_runs(args.run_dirs, args.metric, args.labels)
    ylabel = "eval return (deterministic)" if args.metric == "return_mean" else args.metric
    plot_curves(groups, args.out, args.reference, args.spread, args.title, ylabel=ylabel)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
