"""Aggregate scores over tasks and seeds the way rliable reports them (Agarwal et al. 2021,
"Deep RL at the Edge of the Statistical Precipice"), in plain NumPy.

With a handful of seeds per task, a mean +- std hides how uncertain the aggregate is; these helpers
give robust point estimates (IQM), stratified-bootstrap confidence intervals, performance profiles
and the probability of improvement.

Scores come as an array (seeds, tasks), or as a dict task -> 1-D per-seed scores when tasks have
different seed counts. A 1-D array is one task.
"""

from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist

import numpy as np

Scores = np.ndarray | Mapping[str, Sequence[float]]


def _strata(scores: Scores) -> list[np.ndarray]:
    """Per-task 1-D float arrays, checked: the bootstrap resamples within each of them."""
    if isinstance(scores, Mapping):
        tasks = [np.asarray(v, np.float64) for v in scores.values()]
        if not tasks or any(t.ndim != 1 for t in tasks):
            raise ValueError("scores: expected a non-empty dict of task -> 1-D per-seed scores")
    else:
        arr = np.asarray(scores, np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"scores: expected shape (seeds, tasks), got {arr.shape}")
        tasks = list(arr.T)
    if not tasks or any(t.size == 0 for t in tasks):
        raise ValueError("scores: every task needs at least one seed")
    if not all(np.isfinite(t).all() for t in tasks):
        raise ValueError("scores: NaN or inf")
    return tasks


def normalize_scores(scores: Scores, reference, low=0.0) -> Scores:
    """(score - low) / (reference - low) per task, so tasks with different return scales can be
    pooled; with low=0 it is score / reference. `reference` (and `low`) are per task: an array over
    the task axis for (seeds, tasks) scores, a scalar for 1-D (one task), a dict for dict scores."""
    if isinstance(scores, Mapping):
        missing = set(scores) - set(reference)
        if missing:
            raise ValueError(f"reference: no value for tasks {sorted(missing)}")
        lows = low if isinstance(low, Mapping) else dict.fromkeys(scores, low)
        return {
            k: normalize_scores(np.asarray(v, np.float64), reference[k], lows[k])
            for k, v in scores.items()
        }
    arr, ref, lo = (np.asarray(a, np.float64) for a in (scores, reference, low))
    if arr.size == 0:
        raise ValueError("scores: empty")
    if ref.ndim > 1 or (ref.ndim == 1 and (arr.ndim < 2 or ref.shape[0] != arr.shape[-1])):
        raise ValueError(
            f"reference: shape {ref.shape} does not match the task axis of {arr.shape}"
        )
    if np.any(ref == lo):
        raise ValueError("reference equals low for some task: division by zero")
    return (arr - lo) / (ref - lo)


def iqm(x, axis=None):
    """Interquartile mean: the mean of the middle 50% of values, dropping int(n/4) from each end
    (scipy.stats.trim_mean(x, 0.25), rliable's definition). Robust to outlier seeds, yet uses more
    of the data than the median. axis=None pools everything (all seeds of all tasks)."""
    x = np.asarray(x, np.float64)
    if axis is None:
        x, axis = x.reshape(-1), -1
    x = np.sort(np.moveaxis(x, axis, -1), axis=-1)
    n = x.shape[-1]
    if n == 0:
        raise ValueError("iqm: empty input")
    cut = int(0.25 * n)
    return x[..., cut : n - cut].mean(-1)


def _resample(tasks: list[np.ndarray], reps: int, rng: np.random.Generator) -> np.ndarray:
    """(reps, runs): each row redraws every task's seeds with replacement, keeping seed counts."""
    return np.concatenate([t[rng.integers(0, t.size, size=(reps, t.size))] for t in tasks], axis=1)


def _check(reps: int, alpha: float):
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if int(reps) < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")


def _interval(samples: np.ndarray, alpha: float):
    low, high = np.percentile(samples, [50 * alpha, 100 - 50 * alpha], axis=0)
    return low, high


def stratified_bootstrap_ci(
    scores: Scores, statistic: Callable = iqm, reps: int = 5000, alpha: float = 0.05, seed: int = 0
):
    """(point, low, high): the statistic and its (1 - alpha) percentile-bootstrap interval.

    Seeds are resampled with replacement within each task (stratified), so every resample keeps the
    task mix and only the seed-to-seed luck varies. `statistic(x, axis=-1)` reduces the pooled runs
    on the last axis, like np.mean, np.median or iqm, and may return trailing dims. All resamples
    are drawn at once, (reps, runs) floats in memory. Pooling weighs every run equally, which equals
    rliable's per-task-then-average mean when seed counts are equal."""
    _check(reps, alpha)
    tasks = _strata(scores)
    point = np.asarray(statistic(np.concatenate(tasks), axis=-1))
    boot = np.asarray(statistic(_resample(tasks, int(reps), np.random.default_rng(seed)), axis=-1))
    return (point, *_interval(boot, alpha))


def _profile(x: np.ndarray, taus: np.ndarray, axis=-1) -> np.ndarray:
    x = np.moveaxis(np.asarray(x), axis, -1)
    return (x[..., None, :] > taus[:, None]).mean(-1)


def _taus(taus) -> np.ndarray:
    taus = np.atleast_1d(np.asarray(taus, np.float64))
    if taus.ndim != 1 or taus.size == 0:
        raise ValueError("taus: expected a non-empty 1-D sequence of thresholds")
    return taus


def performance_profile(scores: Scores, taus) -> np.ndarray:
    """Fraction of runs (all seeds of all tasks) scoring above each tau: the whole score
    distribution instead of one aggregate, so a curve above another dominates it at every level."""
    return _profile(np.concatenate(_strata(scores)), _taus(taus))


def performance_profile_band(
    scores: Scores, taus, reps: int = 2000, alpha: float = 0.05, seed: int = 0
):
    """(profile, low, high) per tau, the band from the stratified bootstrap."""
    taus = _taus(taus)
    return stratified_bootstrap_ci(
        scores, lambda x, axis=-1: _profile(x, taus, axis), reps, alpha, seed
    )


def _paired_tasks(x: Scores, y: Scores):
    if isinstance(x, Mapping) != isinstance(y, Mapping):
        raise ValueError("x and y: both arrays or both dicts")
    if isinstance(x, Mapping):
        if set(x) != set(y):
            raise ValueError(f"x and y: different tasks {sorted(set(x) ^ set(y))}")
        y = {k: y[k] for k in x}
    xs, ys = _strata(x), _strata(y)
    if len(xs) != len(ys):
        raise ValueError(f"x and y: {len(xs)} vs {len(ys)} tasks")
    return xs, ys


def _poi(xs, ys) -> np.ndarray:
    """Mann-Whitney U / (n m) per task on the last axis, averaged over tasks."""
    per_task = [
        (a[..., :, None] > b[..., None, :]).mean((-2, -1))
        + 0.5 * (a[..., :, None] == b[..., None, :]).mean((-2, -1))
        for a, b in zip(xs, ys, strict=True)
    ]
    return np.mean(per_task, axis=0)


def probability_of_improvement(x: Scores, y: Scores) -> float:
    """P(X > Y) + 0.5 P(X = Y) for a random seed of x against one of y on the same task, averaged
    over tasks: how often x beats y, regardless of by how much (0.5 = no difference). Seed counts
    may differ between x and y."""
    return float(_poi(*_paired_tasks(x, y)))


def probability_of_improvement_ci(
    x: Scores, y: Scores, reps: int = 2000, alpha: float = 0.05, seed: int = 0
):
    """(point, low, high): x's and y's seeds resampled independently within each task."""
    _check(reps, alpha)
    xs, ys = _paired_tasks(x, y)
    rng = np.random.default_rng(seed)
    bx = [t[rng.integers(0, t.size, size=(int(reps), t.size))] for t in xs]
    by = [t[rng.integers(0, t.size, size=(int(reps), t.size))] for t in ys]
    return (_poi(xs, ys), *_interval(_poi(bx, by), alpha))


def plot_performance_profile(
    taus, profiles: Mapping[str, tuple], path: str, xlabel="normalized score"
):
    """PNG of one profile per label; each value is (profile, low, high) or a bare profile."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, safe headless

    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    for label, prof in profiles.items():
        mid, *band = prof if isinstance(prof, tuple) else (prof,)
        (line,) = ax.plot(taus, mid, label=label)
        if band:
            ax.fill_between(taus, band[0], band[1], color=line.get_color(), alpha=0.2, lw=0)
    ax.set(xlabel=xlabel, ylabel=r"fraction of runs with score $> \tau$", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _two_groups_ci(a, b, statistic, contrast, reps, alpha, seed, name):
    """(point, low, high) of contrast(statistic(b), statistic(a)), each group's seeds resampled
    with replacement independently."""
    _check(reps, alpha)
    a, b = (np.asarray(x, np.float64) for x in (a, b))
    if a.ndim != 1 or b.ndim != 1 or a.size == 0 or b.size == 0:
        raise ValueError(f"{name}: expected two non-empty 1-D arrays of per-seed scores")
    rng = np.random.default_rng(seed)
    boot_a = a[rng.integers(0, a.size, (int(reps), a.size))]
    boot_b = b[rng.integers(0, b.size, (int(reps), b.size))]
    boot = contrast(statistic(boot_b, axis=-1), statistic(boot_a, axis=-1))
    return (float(contrast(statistic(b), statistic(a))), *_interval(boot, alpha))


def difference_ci(a, b, statistic: Callable = np.mean, reps: int = 5000, alpha=0.05, seed=0):
    """(point, low, high) of statistic(b) - statistic(a) for two groups of per-seed scores."""
    return _two_groups_ci(a, b, statistic, np.subtract, reps, alpha, seed, "difference_ci")


def ratio_ci(a, b, statistic: Callable = np.mean, reps: int = 5000, alpha=0.05, seed=0):
    """(point, low, high) of statistic(b) / statistic(a), for "B reaches 1.2x A" questions. Only
    for positive scores: with any a <= 0 a resample's denominator could be 0 or change sign."""
    if np.size(a) and np.min(a) <= 0:
        raise ValueError(f"ratio_ci: A's scores must be positive, got min {np.min(a)}")
    return _two_groups_ci(a, b, statistic, np.divide, reps, alpha, seed, "ratio_ci")


def seeds_to_resolve(a, b, alpha: float = 0.05, power: float = 0.8) -> float:
    """Seeds per group a two-sided test at level `alpha` needs to detect the observed difference
    of means with probability `power`: 2 (z_{1-alpha/2} + z_power)^2 s^2 / d^2, with s^2 the
    pooled sample variance (normal approximation). inf when the means are equal."""
    a, b = (np.asarray(x, np.float64) for x in (a, b))
    if a.size < 2 or b.size < 2:
        raise ValueError("seeds_to_resolve: each group needs at least 2 seeds for a variance")
    delta = b.mean() - a.mean()
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    if delta == 0:
        return float("inf")
    z = NormalDist().inv_cdf
    return float(2 * (z(1 - alpha / 2) + z(power)) ** 2 * pooled / delta**2)
