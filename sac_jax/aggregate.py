"""One number for a suite of tasks, the way rliable reports it (Agarwal et al. 2021).

Each task's score is a seed's deterministic eval return at the task's budget, divided by the
task's reference score (`sac_jax.references.TARGETS`: about the best published mean of SAC with a
learned temperature at that budget), so 1.0 means "level with published SAC". Over all (task, seed)
scores: the interquartile mean and the mean, each with a 95% stratified bootstrap confidence
interval (seeds resampled within each task), and the performance profile: the fraction of runs
scoring above each threshold.
"""

import numpy as np

from sac_jax import stats
from sac_jax.plot import Curve
from sac_jax.references import TARGETS

TAUS = np.linspace(0.0, 1.5, 61)


def score_at(curve: Curve, step: int) -> float | None:
    """The curve's return at its last eval at or before `step`, if it got that far."""
    if curve.steps.max() < step:
        return None
    return float(curve.returns[np.searchsorted(curve.steps, step, side="right") - 1])


def normalized_scores(curves: dict[str, list[Curve]], targets=TARGETS) -> dict[str, np.ndarray]:
    """task -> per-seed normalized scores, for the tasks with a target whose seeds all reached
    its budget (a task still training is left out rather than scored early)."""
    scores = {}
    for env_id, env_curves in curves.items():
        if env_id not in targets:
            continue
        budget, target = targets[env_id]
        raw = [score_at(c, budget) for c in env_curves]
        if raw and None not in raw:
            scores[env_id] = np.asarray(raw) / target
    return scores


def report(scores: dict[str, np.ndarray], profile_png: str, reps: int = 5000) -> list[str]:
    """Markdown lines with the IQM and mean (95% CIs), and the performance profile drawn to
    `profile_png`; an explanation instead when no task has finished."""
    if not scores:
        return [
            "No task here has a reference score at its budget (sac_jax.references.TARGETS): no aggregate."
        ]
    rows = []
    for name, statistic in (("IQM", stats.iqm), ("mean", np.mean)):
        point, low, high = stats.stratified_bootstrap_ci(scores, statistic, reps=reps)
        rows.append(f"| {name} | {point:.3f} | [{low:.3f}, {high:.3f}] |")
    profile = stats.performance_profile_band(scores, TAUS, reps=min(reps, 2000))
    stats.plot_performance_profile(TAUS, {"sac_jax": profile}, profile_png)
    tasks = ", ".join(f"{env} ({len(s)} seeds)" for env, s in scores.items())
    return [
        f"Normalized score = return at the task's budget / the task's reference score; tasks: {tasks}.",
        "",
        "| statistic | normalized score | 95% CI (stratified bootstrap over seeds) |",
        "|---|---|---|",
        *rows,
    ]
