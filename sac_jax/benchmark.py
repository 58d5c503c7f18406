"""Learning-quality benchmark: our SAC against published SAC returns, over seeds, in one command.

    python -m sac_jax.benchmark --suite cpu-quick --seeds 5 --out docs/results/cpu-quick
    python -m sac_jax.benchmark --runs-root RUNS --out DIR   # tabulate runs that already finished
    python -m sac_jax.benchmark --evals docs/results/mujoco/evals.csv --runs-root RUNS \
        --only "HalfCheetah-v5 target_entropy=-3" "Walker2d-v5 critic_lr=0.001" --out DIR
    python -m sac_jax.benchmark --runs-root runs/sac SAC --runs-root runs/crossq CrossQ --out DIR

With --suite, each (env, seed) is one `sac_jax.loop.train` run with the env's file from
`configs/`, its `total_steps` set to the suite's budget, in `OUT/runs/ENV/seedS`. Resuming is per
run: a run whose eval.csv already reaches the budget is skipped; an unfinished one resumes from its
latest checkpoint (`train`'s own checkpointing), and one with no checkpoint yet restarts from
step 0. --runs-root tabulates every run folder under it instead (each one seed, several seeds, or
a sweep); --evals adds the trials of an evals.csv this command wrote, e.g. a committed one.

Trials are grouped by env, the NAME given to their runs root, and sweep point
(`Walker2d-v5 critic_lr=0.001`, `HalfCheetah-v5 CrossQ`). Written to OUT:
`evals.csv` (every eval point), one `ENV.png` per env (a curve per group, with published SAC
curves where there are any), `results.md` (a table row per group and reference, the run folders'
wall-clock times, and the aggregate over tasks of `sac_jax.aggregate` when each task has one
group) and `profile.png` (its performance profile).
"""

import argparse
import csv
import importlib
import os
import shlex
import shutil
import sys
from collections.abc import Sequence

from sac_jax.aggregate import normalized_scores, report
from sac_jax.plot import SPREADS, plot_curves
from sac_jax.references import anchor_curves, references
from sac_jax.tables import HEADER, NOTES, runs_table, table_rows
from sac_jax.trials import RunCurve, collect, find_runs, last_eval_step
from sac_jax.workdir import has_checkpoint

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
        budget = budget if steps is None else steps
        for seed in range(seeds):
            run_dir = suite_run_dir(out, env_id, seed)
            run_dirs.append(run_dir)
            if last_eval_step(run_dir) >= budget:
                print(f"benchmark: {run_dir} already reached {budget} steps, skipped", flush=True)
                continue
            if os.path.isdir(run_dir) and not has_checkpoint(run_dir):
                shutil.rmtree(run_dir)  # no checkpoint to resume: its partial CSVs would be stale
            train(load_config(env_id, budget, seed, overrides), run_dir, quiet=quiet)
    return run_dirs


def aggregate(
    runs: Sequence[RunCurve],
    out: str,
    budgets: dict[str, int] | None = None,
    spread: str = "std",
    command: str = "",
    run_dirs: Sequence[str] = (),
) -> None:
    """Write OUT/evals.csv, OUT/ENV.png and OUT/results.md from finished (or partial) trials.

    `budgets` gives each env's nominal step budget, which decides the references that apply;
    by default it is the largest `total_steps` among the env's trials. `run_dirs`, the folders
    the trials came from, get a table of their wall-clock times.
    """
    os.makedirs(out, exist_ok=True)
    groups: dict[str, list[RunCurve]] = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run)
    envs: dict[str, list[str]] = {}
    for group, trials in groups.items():
        envs.setdefault(trials[0].env_id, []).append(group)
    budgets = {
        env: (budgets or {}).get(env, max(r.total_steps for r in runs if r.env_id == env))
        for env in envs
    }

    with open(os.path.join(out, "evals.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env", "seed", "step", "return_mean", "setting"])
        for run in runs:
            writer.writerows(
                [run.env_id, run.seed, s, v, run.setting]
                for s, v in zip(run.curve.steps, run.curve.returns)
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
    for env_id, names in envs.items():
        plot_curves(
            {g: [r.curve for r in groups[g]] for g in names},
            os.path.join(out, f"{env_id}.png"),
            [r for r in references(env_id) if r.step <= budgets[env_id]],
            spread,
            env_id,  # the legend names each group: SAC, or a named --runs-root (CrossQ)
            anchors=anchor_curves(env_id),
        )
        for g in names:
            curves = [r.curve for r in groups[g]]
            lines += [
                "| " + " | ".join(row) + " |"
                for row in table_rows(g, env_id, budgets[env_id], curves)
            ]
    lines += ["", *runs_table(run_dirs), "## Aggregate over tasks", ""]
    if any(len(names) > 1 for names in envs.values()):
        lines.append(
            "Several settings of one task: no aggregate over tasks (pick one per task with --only)."
        )
    else:
        curves = {env: [r.curve for r in groups[names[0]]] for env, names in envs.items()}
        lines += report(normalized_scores(curves), os.path.join(out, "profile.png"))
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sac_jax.benchmark", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--suite", choices=SUITES, help="train (or resume) this suite, then tabulate"
    )
    parser.add_argument(
        "--runs-root",
        nargs="+",
        action="append",
        default=[],
        metavar="DIR [NAME]",
        help="tabulate the runs under DIR; NAME (e.g. CrossQ) is prefixed to their settings",
    )
    parser.add_argument(
        "--evals", action="append", default=[], help="tabulate the trials in this evals.csv"
    )
    parser.add_argument(
        "--only", nargs="+", default=[], help="tabulate only these groups (env [sweep point])"
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per env")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--steps", type=int, help="override every budget (e.g. a tiny smoke run)")
    parser.add_argument("--spread", choices=SPREADS, default="std", help="band drawn over seeds")
    args = parser.parse_args(argv)
    command = shlex.join(
        ["python", "-m", "sac_jax.benchmark", *(sys.argv[1:] if argv is None else argv)]
    )
    if bool(args.suite) == bool(args.runs_root or args.evals):
        parser.error("give either --suite, or --runs-root and/or --evals")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps {args.steps}: must be a positive number of env steps")
    if any(len(root) > 2 for root in args.runs_root):
        parser.error(f"--runs-root takes DIR and an optional NAME, got {args.runs_root}")
    names = {
        d: root[1] if len(root) == 2 else "" for root in args.runs_root for d in find_runs(root[0])
    }
    if args.suite:
        run_dirs = run_suite(args.suite, args.seeds, args.out, args.steps)
    else:
        run_dirs = list(names)
    try:
        runs = collect(run_dirs, args.evals, args.only, names)
    except (FileNotFoundError, ValueError) as e:
        parser.exit(2, f"error: {e}\n")
    budgets = dict(SUITES[args.suite]) if args.suite else None
    aggregate(runs, args.out, budgets, args.spread, command, run_dirs)
    print(f"wrote {args.out}/evals.csv, {args.out}/results.md and one PNG per env")


if __name__ == "__main__":
    main()
