"""Finished (or partial) runs' eval curves as trials: one seed at one sweep point of one env,
read from run folders (`train.py --workdir`, any number of seeds or sweep points) or from an
evals.csv the benchmark wrote; and each run folder's wall-clock time from its train.csv."""

import csv
import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from sac_jax.plot import Curve, read_run_config, read_seed_curves, run_label
from sac_jax.workdir import EVAL_CSV, TRAIN_CSV, log_dirs, log_files
from sac_jax.writers import read_rows


def last_eval_step(run_dir: str) -> int:
    """The step every trial of the run has evaluated at; 0 before the first evaluation."""
    if not log_files(run_dir, EVAL_CSV):
        return 0
    return min((int(t.curve.steps.max()) for t in read_seed_curves(run_dir)), default=0)


class RunCurve(NamedTuple):
    """One trial's eval curve with what it was trained as."""

    env_id: str
    setting: str  # the name given to its runs root, and its sweep point: "CrossQ critic_lr=0.001"
    seed: int
    total_steps: int
    curve: Curve

    @property
    def group(self) -> str:
        """The name of the trials that share this env and setting: a row group of the table."""
        return f"{self.env_id} {self.setting}".strip()


def read_runs(run_dir: str, name: str = "") -> list[RunCurve]:
    """Every trial of a run folder: one seed, several (`num_seeds`), or a sweep's; `name` (e.g.
    `CrossQ`) tells its groups from other configurations' runs of the same env."""
    config = read_run_config(run_dir)
    env_id, total_steps = run_label(run_dir), int(config.get("total_steps", 0))
    return [
        RunCurve(
            env_id,
            f"{name} {t.point}".strip(),
            config.get("seed", -1) if t.seed is None else t.seed,
            total_steps,
            t.curve,
        )
        for t in read_seed_curves(run_dir)
    ]


def read_evals_csv(path: str) -> list[RunCurve]:
    """The trials in an evals.csv this command wrote, e.g. a committed one whose run folders are
    gone. Each trial's budget is taken to be its last eval step."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = {"env", "seed", "step", "return_mean"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{path}: not an evals.csv of this command (no column {sorted(missing)})")
    trials: dict[tuple, list[dict]] = {}
    for r in rows:
        trials.setdefault((r["env"], r.get("setting", ""), int(r["seed"])), []).append(r)
    runs = []
    for (env_id, setting, seed), rs in trials.items():
        rs.sort(key=lambda r: int(r["step"]))
        steps = np.array([int(r["step"]) for r in rs])
        curve = Curve(steps, np.array([float(r["return_mean"]) for r in rs]))
        runs.append(RunCurve(env_id, setting, seed, int(steps[-1]), curve))
    return runs


def wall_clock_hours(run_dir: str) -> float | None:
    """The time the run's process(es) took, summed from train.csv's steps_per_sec (training,
    evaluations and checkpoints; not start-up). None without train.csv rows."""
    if not log_files(run_dir, TRAIN_CSV):
        return None
    rate = {}  # trials trained together log the same rate at a step: keep one per step
    for r in read_rows(run_dir, TRAIN_CSV):
        rate.setdefault(int(r["step"]), float(r["steps_per_sec"]))
    if not rate:
        return None
    steps = np.array(sorted(rate))
    seconds = np.diff(steps, prepend=0) / np.array([rate[s] for s in steps])
    return float(seconds.sum() / 3600)


def find_runs(root: str) -> list[str]:
    """Every run directory under `root` (one with eval.csv in it or in its processP/ folders), in a
    stable order; the processP/ folders themselves are part of their run, not runs."""
    runs = {d for d, _, _ in os.walk(root) if log_files(d, EVAL_CSV)}
    return sorted(runs - {p for d in runs for p in log_dirs(d)[1:]})


def collect(
    run_dirs: Sequence[str] = (),
    evals_csvs: Sequence[str] = (),
    only: Sequence[str] = (),
    names: dict[str, str] | None = None,
) -> list[RunCurve]:
    """The trials of run folders (`names`: run dir -> the name of its configuration) and evals.csv
    files, sorted by group and seed; with `only`, just those groups (e.g. `Walker2d-v5
    critic_lr=0.001`). A trial found twice is an error."""
    runs = [r for d in run_dirs for r in read_runs(d, (names or {}).get(d, ""))]
    runs += [r for path in evals_csvs for r in read_evals_csv(path)]
    groups = sorted({r.group for r in runs})
    unknown = [g for g in only if g not in groups]
    if unknown:
        raise ValueError(f"--only {unknown}: no such group; the inputs hold {groups}")
    runs = sorted((r for r in runs if not only or r.group in only), key=lambda r: (r.group, r.seed))
    for a, b in zip(runs, runs[1:]):
        if (a.group, a.seed) == (b.group, b.seed):
            raise ValueError(f"{a.group} seed {a.seed} appears twice in the inputs")
    return runs
