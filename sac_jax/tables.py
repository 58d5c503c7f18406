"""The benchmark's Markdown tables: our mean over seeds against each published reference, and
each run folder's size and wall-clock time."""

import os
from collections.abc import Sequence

import numpy as np

from sac_jax.plot import Curve, seed_stats
from sac_jax.provenance import read_launches
from sac_jax.references import references
from sac_jax.trials import last_eval_step, read_runs, wall_clock_hours


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _ratio(ours: float, ref: float) -> str:
    # For negative returns ref/ours, so that a ratio above 1 always means ours is higher.
    return f"{ours / ref:.2f}" if ref > 0 else f"{ref / ours:.2f}"


def table_rows(group: str, env_id: str, budget: int, curves: Sequence[Curve]) -> list[list[str]]:
    """The rows of one group of `env_id`'s trials: one per reference that applies within `budget`
    (one row if none does)."""
    steps, mean, _, high = seed_stats(curves, "std")
    std = high - mean
    head = [
        group,
        str(budget),
        str(len(curves)),
        str(steps[-1]),
        f"{_fmt(mean[-1])} +- {_fmt(std[-1])}",
        ", ".join(_fmt(c.returns[np.searchsorted(c.steps, steps[-1])]) for c in curves),
    ]
    references_ = [r for r in references(env_id) if r.step <= budget]
    rows = []
    for ref in references_:
        i = np.searchsorted(steps, ref.step, side="right") - 1  # last eval at or before ref.step
        reached = np.flatnonzero(mean >= ref.value)
        at, ratio = "not reached", "-"
        if steps[-1] >= ref.step and i >= 0:
            at = f"{_fmt(mean[i])} +- {_fmt(std[i])}" + (
                f" (at {steps[i]})" if steps[i] != ref.step else ""
            )
            ratio = _ratio(mean[i], ref.value)
        first = str(steps[reached[0]]) if reached.size else "not reached"
        rows.append(head + [_fmt(ref.value), str(ref.step), ref.label, at, ratio, first])
    return rows or [head + ["-"] * 6]


HEADER = (
    "env",
    "budget",
    "seeds",
    "last step (all seeds)",
    "ours final (mean +- std)",
    "per seed",
    "reference",
    "ref step",
    "source",
    "ours at ref step",
    "ratio",
    "first step our mean >= reference",
)

NOTES = """\
Returns are deterministic evaluations (tanh of the policy mean), averaged over each run's eval
episodes, then mean +- std (population std) over seeds, at the eval steps all seeds reached.
Ratio = ours / reference (reference / ours for negative returns): above 1 means ours is higher.
MuJoCo references are other projects' SAC runs on v2-v4 envs (docs/results/anchors/README.md);
v5 rewards differ a little (contact costs, foot friction), so those comparisons are indicative.
"""


def _distinct(values, sep: str = ", ") -> str:
    return sep.join(dict.fromkeys(v for v in values if v)) or "-"


def provenance(run_dir: str) -> tuple[str, str]:
    """The run's code commits (12 digits, `+changes` when tracked files differed) and machines
    (CPU and accelerators), over its launches in order; "-" for a run without launches.jsonl."""
    launches = read_launches(run_dir)
    commits = (
        (x["commit"] or "")[:12] + ("+changes" if x["commit"] and x["dirty"] else "")
        for x in launches
    )
    machines = (
        " + ".join([f"{x['cpu']} x{x['cpu_count']}", *(d for d in x["devices"] if d != "cpu")])
        for x in launches
    )
    return _distinct(commits), _distinct(machines, "; ")


def runs_table(run_dirs: Sequence[str]) -> list[str]:
    """Markdown: each run folder's trials, last eval step, wall-clock time, code and machine."""
    if not run_dirs:
        return []
    root = os.path.dirname(os.path.commonpath([os.path.abspath(d) for d in run_dirs]))
    lines = [
        "| run folder | trials | last eval step | wall-clock (h) | code commit | machine |",
        "|---|---|---|---|---|---|",
    ]
    for d in run_dirs:
        hours = wall_clock_hours(d)
        trials = len(read_runs(d))
        name = os.path.relpath(os.path.abspath(d), root)
        clock = "-" if hours is None else f"{hours:.3g}"
        commit, machine = provenance(d)
        lines.append(
            f"| {name} | {trials} | {last_eval_step(d)} | {clock} | {commit} | {machine} |"
        )
    return [
        "## Runs",
        "",
        "Wall-clock time is summed from each folder's train.csv rates (training, evaluations and "
        "checkpoints, not start-up); the trials of one folder trained together, in one process. "
        "Code and machine: every start and resume of the run (its launches.jsonl).",
        "",
        *lines,
        "",
    ]
