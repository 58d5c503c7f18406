"""Learning-quality benchmark: our SAC against published SAC returns, over seeds, in one command.

    python -m sac_jax.benchmark --suite cpu-quick --seeds 5 --out docs/results/cpu-quick
    python -m sac_jax.benchmark --runs-root RUNS --out DIR   # tabulate runs that already finished

Each (env, seed) is one `sac_jax.loop.train` run with the env's file from `configs/`, its
`total_steps` set to the suite's budget, in `OUT/runs/ENV/seedS`. Resuming is per run: a run whose
eval.csv already reaches the budget is skipped; an unfinished one resumes from its latest checkpoint
(`train`'s own checkpointing), and one with no checkpoint yet restarts from step 0. Then
`OUT/evals.csv`, one `OUT/ENV.png` per env (with published SAC curves where there are any),
`OUT/results.md` (per-env table, then the aggregate over tasks of `sac_jax.aggregate`) and
`OUT/profile.png` (its performance profile) are written from all the runs.
"""

import argparse
import csv
import importlib
import os
import shutil
import sys
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from sac_jax.aggregate import normalized_scores, report
from sac_jax.plot import (
    SPREADS,
    Curve,
    plot_curves,
    read_eval,
    read_run_config,
    run_label,
    seed_stats,
)
from sac_jax.references import anchor_curves, references
from sac_jax.workdir import EVAL_CSV, checkpoint_dir, log_dirs, log_files

CONFIG_MODULES = {  # the `configs` package, installed beside sac_jax
    "Pendulum-v1": "pendulum",
    "InvertedPendulum-v5": "invertedpendulum",
    "LunarLanderContinuous-v3": "lunarlander",
    "Hopper-v5": "hopper",
    "HalfCheetah-v5": "halfcheetah",
    "Walker2d-v5": "walker2d",
    "Ant-v5": "ant",
    "Humanoid-v5": "humanoid",
}

# (env, step budget) pairs sized for the machines we have.
SUITES = {
    "cpu-quick": (("Pendulum-v1", 20_000), ("InvertedPendulum-v5", 20_000)),
    "cpu-day": (
        ("LunarLanderContinuous-v3", 200_000),
        ("Hopper-v5", 300_000),
        ("HalfCheetah-v5", 300_000),
        ("Walker2d-v5", 300_000),
    ),
    "mujoco": (
        ("HalfCheetah-v5", 300_000),
        ("Hopper-v5", 300_000),
        ("Walker2d-v5", 300_000),
        ("Ant-v5", 300_000),
        ("Humanoid-v5", 1_000_000),
    ),
    "gpu-1m": tuple(
        (env, 1_000_000)
        for env in ("Ant-v5", "Humanoid-v5", "HalfCheetah-v5", "Hopper-v5", "Walker2d-v5")
    ),
}


def suite_run_dir(out: str, env_id: str, seed: int) -> str:
    """OUT/runs/ENV/seedS: one (env, seed) run of a suite, a plain workdir."""
    return os.path.join(out, "runs", env_id, f"seed{seed}")


def load_config(env_id: str, total_steps: int, seed: int, overrides: dict | None = None):
    """The env's `configs/` file with the budget, the seed and any test overrides applied."""
    config = importlib.import_module(f"configs.{CONFIG_MODULES[env_id]}").get_config()
    config.update({"total_steps": total_steps, "seed": seed, **(overrides or {})})
    return config


def last_eval_step(run_dir: str) -> int:
    if not log_files(run_dir, EVAL_CSV):
        return 0
    steps = read_eval(run_dir).steps
    return int(steps.max()) if steps.size else 0


def run_suite(
    suite: str,
    seeds: int,
    out: str,
    steps: int | None = None,
    overrides: dict | None = None,
    quiet: bool = False,
) -> list[str]:
    """Train every (env, seed) of `suite` not yet finished; return all its run dirs."""
    from sac_jax.loop import train  # the JAX stack only when training, not to tabulate

    run_dirs = []
    for env_id, budget in SUITES[suite]:
        budget = steps or budget
        for seed in range(seeds):
            run_dir = suite_run_dir(out, env_id, seed)
            run_dirs.append(run_dir)
            if last_eval_step(run_dir) >= budget:
                print(f"benchmark: {run_dir} already reached {budget} steps, skipped", flush=True)
                continue
            if os.path.isdir(run_dir) and not os.path.isdir(checkpoint_dir(run_dir)):
                shutil.rmtree(run_dir)  # no checkpoint to resume: its partial CSVs would be stale
            train(load_config(env_id, budget, seed, overrides), run_dir, quiet=quiet)
    return run_dirs


class RunCurve(NamedTuple):
    """One run's eval curve with what it was trained as."""

    env_id: str
    seed: int
    total_steps: int
    curve: Curve


def read_run(run_dir: str) -> RunCurve:
    config = read_run_config(run_dir)
    return RunCurve(
        run_label(run_dir),
        int(config.get("seed", -1)),
        int(config.get("total_steps", 0)),
        read_eval(run_dir),
    )


def find_runs(root: str) -> list[str]:
    """Every run directory under `root` (one with eval.csv in it or in its processP/ folders), in a
    stable order; the processP/ folders themselves are part of their run, not runs."""
    runs = {d for d, _, _ in os.walk(root) if log_files(d, EVAL_CSV)}
    return sorted(runs - {p for d in runs for p in log_dirs(d)[1:]})


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _ratio(ours: float, ref: float) -> str:
    # For negative returns ref/ours, so that a ratio above 1 always means ours is higher.
    return f"{ours / ref:.2f}" if ref > 0 else f"{ref / ours:.2f}"


def table_rows(env_id: str, budget: int, curves: Sequence[Curve]) -> list[list[str]]:
    """One row per reference that applies within `budget` (one row if none does)."""
    steps, mean, _, high = seed_stats(curves, "std")
    std = high - mean
    head = [
        env_id,
        str(budget),
        str(len(curves)),
        str(steps[-1]),
        f"{_fmt(mean[-1])} +- {_fmt(std[-1])}",
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


def aggregate(
    run_dirs: Sequence[str],
    out: str,
    budgets: dict[str, int] | None = None,
    spread: str = "std",
    command: str = "",
) -> None:
    """Write OUT/evals.csv, OUT/ENV.png and OUT/results.md from finished (or partial) runs.

    `budgets` gives each env's nominal step budget, which decides the references that apply;
    by default it is the largest `total_steps` among the env's runs.
    """
    os.makedirs(out, exist_ok=True)
    groups: dict[str, list[RunCurve]] = {}
    for run in sorted(map(read_run, run_dirs), key=lambda r: (r.env_id, r.seed)):
        groups.setdefault(run.env_id, []).append(run)
    budgets = {
        env: (budgets or {}).get(env, max(r.total_steps for r in runs))
        for env, runs in groups.items()
    }

    with open(os.path.join(out, "evals.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env", "seed", "step", "return_mean"])
        for run in (r for runs in groups.values() for r in runs):
            writer.writerows(
                [run.env_id, run.seed, s, v] for s, v in zip(run.curve.steps, run.curve.returns)
            )

    lines = [
        "# SAC benchmark results",
        "",
        f"Command: `{command}`",
        "",
        NOTES,
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    for env_id, runs in groups.items():
        curves = [r.curve for r in runs]
        plot_curves(
            {env_id: curves},
            os.path.join(out, f"{env_id}.png"),
            [r for r in references(env_id) if r.step <= budgets[env_id]],
            spread,
            f"SAC on {env_id}",
            anchors=anchor_curves(env_id),
        )
        lines += [
            "| " + " | ".join(row) + " |" for row in table_rows(env_id, budgets[env_id], curves)
        ]
    curves = {env_id: [r.curve for r in runs] for env_id, runs in groups.items()}
    lines += ["", "## Aggregate over tasks", ""]
    lines += report(normalized_scores(curves), os.path.join(out, "profile.png"))
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sac_jax.benchmark", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--suite", choices=SUITES, help="train (or resume) this suite, then tabulate"
    )
    source.add_argument("--runs-root", help="only tabulate the runs found under this folder")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per env")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--steps", type=int, help="override every budget (e.g. a tiny smoke run)")
    parser.add_argument("--spread", choices=SPREADS, default="std", help="band drawn over seeds")
    args = parser.parse_args(argv)
    command = "python -m sac_jax.benchmark " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.suite:
        run_dirs = run_suite(args.suite, args.seeds, args.out, args.steps)
        aggregate(run_dirs, args.out, dict(SUITES[args.suite]), args.spread, command)
    else:
        aggregate(find_runs(args.runs_root), args.out, spread=args.spread, command=command)
    print(f"wrote {args.out}/evals.csv, {args.out}/results.md and one PNG per env")


if __name__ == "__main__":
    main()
