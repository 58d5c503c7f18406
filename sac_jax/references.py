"""Published SAC results to compare against: points, whole curves, and per-task reference scores.

The MuJoCo curves are other projects' evaluation curves, copied from their public result files
into `sac_jax/data/published_sac.csv` (docs/results/anchors/README.md names each file and the
settings it was run with). They ran v2-v4 envs; v5 rewards differ a little (Humanoid's contact
cost, Ant's contact forces, Walker2d's foot friction), so comparisons with v5 are indicative.
"""

import csv
import functools
import os
from typing import NamedTuple

import numpy as np

ANCHORS_CSV = os.path.join(os.path.dirname(__file__), "data", "published_sac.csv")

SOURCES = {  # the anchor CSV's `source` -> how the runs were made
    "simbav2_crossq_sac": "SAC, v4, lr 1e-3, 1 eval episode (CrossQ authors' runs, SimbaV2 repo)",
    "jaxrl": "SAC in jaxrl, v2, lr 3e-4, target entropy -dim(A)/2",
    "tianshou": "SAC in Tianshou, v3, lr 1e-3, fixed alpha 0.2",
}

# Each task's reference score at the budget it is benchmarked at: about the best published mean of
# SAC with a learned temperature there (Tianshou's fixed-alpha SAC is higher on some tasks). It
# normalizes a task to 1.0 in the aggregate over tasks.
TARGETS = {
    "HalfCheetah-v5": (300_000, 8600.0),
    "Hopper-v5": (300_000, 2800.0),
    "Walker2d-v5": (300_000, 3200.0),
    "Ant-v5": (300_000, 3500.0),
    "Humanoid-v5": (1_000_000, 5000.0),
}


class Reference(NamedTuple):
    """A published value drawn as a marked point at the step budget it was reported for."""

    step: int
    value: float
    label: str


class AnchorCurve(NamedTuple):
    """A published mean curve over seeds, with its std over seeds."""

    steps: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    seeds: int


_CURVE_COLUMNS = ("step", "return_mean", "return_std")


@functools.cache
def _anchor_rows() -> dict[tuple[str, str], list[dict]]:
    with open(ANCHORS_CSV, newline="") as f:
        rows: dict[tuple[str, str], list[dict]] = {}
        for r in csv.DictReader(f):
            rows.setdefault((r["source"], r["env"]), []).append(r)
    return rows


def anchor_curves(env_id: str) -> dict[str, AnchorCurve]:
    """The published curves of `env_id` (any version: `Humanoid-v5` -> Humanoid), by source label."""
    task = env_id.split("-")[0]
    curves = {}
    for (source, env), rows in _anchor_rows().items():
        if env == task:
            steps, mean, std = (np.array([float(r[k]) for r in rows]) for k in _CURVE_COLUMNS)
            curves[SOURCES[source]] = AnchorCurve(steps, mean, std, int(rows[0]["seeds"]))
    return curves


def value_at(curve: AnchorCurve, step: int) -> float:
    """The curve's mean at its logged step nearest `step`."""
    return float(curve.mean[np.argmin(np.abs(curve.steps - step))])


_ZOO = "SB3 RL Zoo"
_POINTS = {
    "Pendulum-v1": (Reference(20_000, -150.0, f"{_ZOO} (about -150 at 20k)"),),
    "LunarLanderContinuous-v3": (Reference(50_000, 200.0, f"{_ZOO} (solved, >= 200, near 50k)"),),
}

# Results published as a table only (no per-step curve), by task. CleanRL's SAC docs table: mean
# training-episode return (stochastic policy) of 3 seeds at 1M, policy lr 3e-4, Q and alpha lr 1e-3.
_CLEANRL = "SAC in CleanRL, {}, q lr 1e-3, 3 seeds, training episodes"
_TABLE_POINTS = {
    "HalfCheetah": (Reference(1_000_000, 9634.89, _CLEANRL.format("v2")),),
    "Walker2d": (Reference(1_000_000, 3591.45, _CLEANRL.format("v2")),),
    "Hopper": (Reference(1_000_000, 2310.46, _CLEANRL.format("v2")),),
    "Humanoid": (Reference(1_000_000, 4996.29, _CLEANRL.format("v4")),),
}


def references(env_id: str, budgets=(300_000, 1_000_000)) -> tuple[Reference, ...]:
    """Published points for `env_id`: the anchor curves' means at `budgets` and the tabled
    results, or the fixed points."""
    if env_id in _POINTS:
        return _POINTS[env_id]
    return tuple(
        Reference(step, value_at(curve, step), label)
        for label, curve in anchor_curves(env_id).items()
        for step in budgets
    ) + _TABLE_POINTS.get(env_id.split("-")[0], ())
