"""sac_jax.stats against hand-computed cases and known sampling behaviour (not against itself)."""

import numpy as np
import pytest

from sac_jax import stats

# --- IQM: scipy.stats.trim_mean(x, 0.25), cutting int(n / 4) values from each end -----------------


@pytest.mark.parametrize(
    "values, expected",
    [
        ([8, 1, 7, 2, 6, 3, 5, 4], 4.5),  # n=8: drop 1,2 and 7,8 -> mean(3,4,5,6)
        ([10, -3, 7, 1, 4], 4.0),  # n=5: int(1.25)=1 from each end -> mean(1,4,7)
        ([1000, 0, 5, 200, 1, 100, 4, 0, 3, 2], 115 / 6),  # n=10: int(2.5)=2 -> mean(1,2,3,4,5,100)
        ([1, 2, 9], 4.0),  # n=3: int(0.75)=0, nothing trimmed
        ([7.5], 7.5),
    ],
)
def test_iqm_hand_cases(values, expected):
    assert stats.iqm(values) == pytest.approx(expected)


def test_iqm_pools_seeds_and_tasks_by_default_and_reduces_an_axis_on_request():
    scores = np.array([[1, 2], [3, 4], [5, 6], [7, 8]])  # (seeds, tasks)
    assert stats.iqm(scores) == pytest.approx(4.5)
    np.testing.assert_allclose(stats.iqm(scores, axis=0), [4.0, 5.0])  # n=4: middle two per task
    rows = np.array([[8, 1, 7, 2, 6, 3, 5, 4], [0, 0, 0, 0, 1, 1, 1, 100]])
    np.testing.assert_allclose(stats.iqm(rows, axis=-1), [4.5, 0.5])


def test_iqm_matches_scipy_trim_mean():
    trim_mean = pytest.importorskip("scipy.stats").trim_mean
    rng = np.random.default_rng(0)
    for n in range(1, 40):
        x = rng.standard_cauchy(n)
        assert stats.iqm(x) == pytest.approx(trim_mean(x, 0.25), rel=1e-12, abs=1e-12)


def test_iqm_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        stats.iqm([])


# --- normalization --------------------------------------------------------------------------------


def test_normalize_scores_per_task():
    scores = np.array([[100.0, 10.0], [300.0, 30.0]])
    np.testing.assert_allclose(
        stats.normalize_scores(scores, [200.0, 20.0]), [[0.5, 0.5], [1.5, 1.5]]
    )
    # (score - low) / (reference - low): a random-policy score maps to 0, the reference to 1
    np.testing.assert_allclose(
        stats.normalize_scores([150.0, 250.0, 50.0], 250.0, low=50.0), [0.5, 1.0, 0.0]
    )
    out = stats.normalize_scores(
        {"a": [1.0, 3.0], "b": [40.0]}, {"a": 2.0, "b": 80.0, "unused": 1.0}
    )
    assert set(out) == {"a", "b"}
    np.testing.assert_allclose(out["a"], [0.5, 1.5])
    np.testing.assert_allclose(out["b"], [0.5])


@pytest.mark.parametrize(
    "scores, reference, low, match",
    [
        # reference for 3 tasks, scores have 2
        (np.ones((3, 2)), [1.0, 2.0, 3.0], 0.0, "reference: shape"),
        # 1-D is one task: needs one reference
        (np.ones(3), [1.0, 2.0, 3.0], 0.0, "reference: shape"),
        ({"a": [1.0], "b": [2.0]}, {"a": 1.0}, 0.0, "no value for tasks"),
        (np.ones((3, 2)), [1.0, 0.0], 0.0, "division by zero"),
        (np.ones((3, 2)), [1.0, 5.0], 5.0, "division by zero"),
        (np.ones((0, 2)), [1.0, 2.0], 0.0, "scores: empty"),
    ],
)
def test_normalize_scores_rejects_bad_input(scores, reference, low, match):
    with pytest.raises(ValueError, match=match):
        stats.normalize_scores(scores, reference, low)


# --- stratified bootstrap -------------------------------------------------------------------------


def test_bootstrap_ci_covers_the_population_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    trials, hits = 400, 0
    for t in range(trials):
        scores = rng.normal(10.0, 2.0, size=(10, 5))  # 10 seeds x 5 tasks from one population
        point, low, high = stats.stratified_bootstrap_ci(scores, np.mean, reps=400, seed=t)
        assert low <= point <= high
        hits += low <= 10.0 <= high
    # percentile bootstrap slightly under-covers at 50 runs (~0.92-0.94); a 90% interval gives ~0.86
    assert 0.89 <= hits / trials <= 0.99


def test_bootstrap_ci_shrinks_with_more_seeds():
    rng = np.random.default_rng(2)
    few = rng.normal(0.0, 1.0, size=(5, 4))
    many = rng.normal(0.0, 1.0, size=(80, 4))
    _, lo_few, hi_few = stats.stratified_bootstrap_ci(few, stats.iqm, reps=1000)
    _, lo_many, hi_many = stats.stratified_bootstrap_ci(many, stats.iqm, reps=1000)
    assert hi_many - lo_many < 0.5 * (hi_few - lo_few)  # ~ 1/sqrt(16) expected


def test_bootstrap_resamples_within_each_task_and_keeps_its_seed_count():
    scores = {"a": [0.0, 1.0, 2.0], "b": [100.0, 101.0], "c": [1000.0]}
    seen = []

    def spy(x, axis=-1):
        seen.append(np.array(x))
        return np.mean(x, axis=axis)

    stats.stratified_bootstrap_ci(scores, spy, reps=300)
    point_input, boot = seen
    assert sorted(point_input) == [0, 1, 2, 100, 101, 1000]
    assert boot.shape == (300, 6)
    np.testing.assert_array_equal((boot < 100).sum(1), 3)  # task a always contributes 3 runs
    np.testing.assert_array_equal(((boot >= 100) & (boot < 1000)).sum(1), 2)
    np.testing.assert_array_equal((boot == 1000).sum(1), 1)
    assert np.isin(boot, [0, 1, 2, 100, 101, 1000]).all()
    first_task = np.sort(boot[:, :3], axis=1)
    assert (first_task != [0, 1, 2]).any(axis=1).mean() > 0.5  # with replacement: repeats happen


def test_bootstrap_percentiles_on_a_two_seed_case():
    # One task, seeds [0, 1]: a resampled mean is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4.
    point, low, high = stats.stratified_bootstrap_ci([0.0, 1.0], np.mean, reps=4000, alpha=0.05)
    assert (point, low, high) == (0.5, 0.0, 1.0)
    _, low, high = stats.stratified_bootstrap_ci([0.0, 1.0], np.mean, reps=4000, alpha=0.6)
    assert low == high == 0.5  # 30th and 70th percentiles both fall on the middle mass


def test_bootstrap_interval_is_the_central_percentile_range():
    # A statistic numbering the resamples 0..1000 makes the bootstrap distribution uniform, known.
    def numbering(x, axis=-1):
        return np.arange(x.shape[0], dtype=float) if x.ndim == 2 else 500.0

    assert stats.stratified_bootstrap_ci([1.0, 2.0], numbering, reps=1001, alpha=0.05) == (
        500.0,
        25.0,
        975.0,
    )
    assert stats.stratified_bootstrap_ci([1.0, 2.0], numbering, reps=1001, alpha=0.5) == (
        500.0,
        250.0,
        750.0,
    )


def test_bootstrap_degenerate_scores_give_a_zero_width_interval():
    assert stats.stratified_bootstrap_ci(np.full((5, 3), 7.0), stats.iqm, reps=200) == (
        7.0,
        7.0,
        7.0,
    )


def test_bootstrap_is_reproducible_by_seed():
    scores = np.random.default_rng(3).normal(size=(6, 3))
    a = stats.stratified_bootstrap_ci(scores, reps=500, seed=4)
    assert a == stats.stratified_bootstrap_ci(scores, reps=500, seed=4)
    assert a[1:] != stats.stratified_bootstrap_ci(scores, reps=500, seed=5)[1:]


@pytest.mark.parametrize(
    "scores, kwargs, match",
    [
        (np.zeros((0, 3)), {}, "at least one seed"),
        (np.zeros((3, 0)), {}, "at least one seed"),
        (np.zeros((2, 3, 4)), {}, "expected shape"),
        ({}, {}, "non-empty dict"),
        ({"a": [1.0], "b": []}, {}, "at least one seed"),
        ({"a": [[1.0, 2.0]]}, {}, "1-D per-seed scores"),
        ([1.0, np.nan], {}, "NaN or inf"),
        (np.ones((3, 2)), {"alpha": 0.0}, "alpha must be in"),
        (np.ones((3, 2)), {"alpha": 1.0}, "alpha must be in"),
        (np.ones((3, 2)), {"alpha": 1.5}, "alpha must be in"),
        (np.ones((3, 2)), {"reps": 0}, "reps must be"),
    ],
)
def test_bootstrap_rejects_bad_input(scores, kwargs, match):
    with pytest.raises(ValueError, match=match):
        stats.stratified_bootstrap_ci(scores, **kwargs)


# --- performance profile --------------------------------------------------------------------------


def test_performance_profile_hand_case():
    scores = np.array([[0.2, 1.5], [0.8, 0.5]])  # runs: 0.2, 1.5, 0.8, 0.5
    taus = [0.0, 0.5, 1.0, 2.0]
    expected = [1.0, 0.5, 0.25, 0.0]  # strictly greater: 0.5 does not count at tau = 0.5
    np.testing.assert_allclose(stats.performance_profile(scores, taus), expected)
    ragged = {"a": [0.2], "b": [1.5, 0.8, 0.5]}
    np.testing.assert_allclose(stats.performance_profile(ragged, taus), expected)


def test_performance_profile_band():
    rng = np.random.default_rng(5)
    scores = rng.uniform(0.0, 2.0, size=(10, 4))
    taus = np.linspace(0.0, 2.0, 21)
    prof, low, high = stats.performance_profile_band(scores, taus, reps=500)
    np.testing.assert_allclose(prof, stats.performance_profile(scores, taus))
    assert prof.shape == low.shape == high.shape == (21,)
    assert (low <= prof).all() and (prof <= high).all()
    assert (np.diff(prof) <= 0).all() and (high - low).max() > 0
    flat = stats.performance_profile_band(np.ones((4, 2)), [0.5, 1.0], reps=100)
    np.testing.assert_allclose(np.array(flat), [[1.0, 0.0]] * 3)


def test_performance_profile_rejects_bad_taus():
    with pytest.raises(ValueError, match="taus"):
        stats.performance_profile(np.ones((2, 2)), [])


# --- probability of improvement -------------------------------------------------------------------


def test_probability_of_improvement_hand_cases():
    x = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0]])
    assert stats.probability_of_improvement(x, x) == 0.5
    assert stats.probability_of_improvement(x + 10.0, x) == 1.0
    assert stats.probability_of_improvement(x, x + 10.0) == 0.0
    # task a: x=[1,3] vs y=[2,2,0] -> wins (1,0),(3,2),(3,2),(3,0) = 4 of 6 pairs
    # task b: x=[1,2] vs y=[2]     -> (1,2) loss, (2,2) tie = 0.5 of 2 pairs = 1/4
    x = {"a": [1.0, 3.0], "b": [1.0, 2.0]}
    y = {"b": [2.0], "a": [2.0, 2.0, 0.0]}  # tasks matched by name, not order
    assert stats.probability_of_improvement(x, y) == pytest.approx((4 / 6 + 1 / 4) / 2)
    assert stats.probability_of_improvement(y, x) == pytest.approx(1 - (4 / 6 + 1 / 4) / 2)


def test_probability_of_improvement_ci():
    x = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0]])
    assert stats.probability_of_improvement_ci(x + 10.0, x, reps=100) == (1.0, 1.0, 1.0)
    point, low, high = stats.probability_of_improvement_ci(x, x, reps=500)
    assert point == 0.5 and low < 0.5 < high


@pytest.mark.parametrize(
    "x, y, match",
    [
        (np.ones((3, 2)), np.ones((3, 3)), "2 vs 3 tasks"),
        ({"a": [1.0]}, {"b": [1.0]}, "different tasks"),
        ({"a": [1.0]}, np.ones((1, 1)), "both arrays or both dicts"),
        (np.ones((0, 2)), np.ones((3, 2)), "at least one seed"),
    ],
)
def test_probability_of_improvement_rejects_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        stats.probability_of_improvement(x, y)


def test_plot_performance_profile_writes_a_png(tmp_path):
    taus = np.linspace(0, 2, 11)
    scores = np.random.default_rng(6).uniform(0, 2, size=(5, 3))
    path = tmp_path / "profile.png"
    stats.plot_performance_profile(
        taus,
        {
            "band": stats.performance_profile_band(scores, taus, reps=50),
            "bare": stats.performance_profile(scores, taus),
        },
        str(path),
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
