"""`python -m sac_jax.compare`: differences with bootstrap intervals, verdicts, seeds needed."""

import csv
import os

import matplotlib.image
import numpy as np
import pytest

from sac_jax import compare, stats
from sac_jax.plot import Curve

STEPS = np.arange(1, 11) * 1000


def group(rng, final_mean, seeds=10, spread=10.0):
    """Seeds whose curves rise linearly to a final return drawn around `final_mean`."""
    finals = rng.normal(final_mean, spread, seeds)
    return [Curve(STEPS, np.linspace(0.0, f, STEPS.size)) for f in finals], finals


def test_a_known_difference_is_detected_and_its_interval_covers_the_truth():
    rng = np.random.default_rng(0)
    a, finals_a = group(rng, 100.0)
    b, finals_b = group(rng, 200.0)
    report = compare.compare(a, b, reps=4000)
    final = report["final"]
    assert final["verdict"] == "B better" and "seeds_needed" not in final
    assert final["mean"][1] < 100.0 < final["mean"][2]  # the true difference
    assert final["mean"][0] == pytest.approx(finals_b.mean() - finals_a.mean())
    assert final["poi"][0] == 1.0  # every seed of B beats every seed of A
    assert report["AUC"]["verdict"] == "B better"  # linear from 0: AUC is half the final
    assert report["AUC"]["mean"][0] == pytest.approx(0.5 * final["mean"][0])
    assert compare.compare(b, a, reps=4000)["final"]["verdict"] == "A better"
    assert final["ratio"][0] == pytest.approx(finals_b.mean() / finals_a.mean())
    assert final["ratio"][1] < 2.0 < final["ratio"][2]  # the true ratio
    below_zero, _ = group(rng, -5.0)  # a ratio to scores of either sign means nothing
    assert "ratio" not in compare.compare(below_zero, b, reps=100)["final"]


def test_no_difference_is_reported_with_the_seeds_that_would_resolve_it():
    rng = np.random.default_rng(1)
    a, finals_a = group(rng, 100.0, seeds=5)
    b, finals_b = group(rng, 100.0, seeds=5)
    final = compare.compare(a, b, reps=4000)["final"]
    assert final["verdict"] == "no difference detected"
    assert final["mean"][1] < 0.0 < final["mean"][2]
    assert final["seeds_needed"] == pytest.approx(stats.seeds_to_resolve(finals_a, finals_b))
    assert final["seeds_needed"] > 5  # five seeds did not resolve it


def test_seeds_to_resolve_by_hand():
    # a: mean 1, variance 2; b: mean 2, variance 2; pooled variance 2, difference 1:
    # 2 * (1.959964 + 0.841621)^2 * 2 / 1^2 = 31.3955
    assert stats.seeds_to_resolve([0.0, 2.0], [1.0, 3.0]) == pytest.approx(31.3955, abs=1e-3)
    assert stats.seeds_to_resolve([1.0, 3.0], [1.0, 3.0]) == float("inf")
    with pytest.raises(ValueError, match="at least 2 seeds"):
        stats.seeds_to_resolve([1.0], [2.0, 3.0])


def test_difference_ci_by_hand():
    point, low, high = stats.difference_ci([1.0, 1.0, 1.0], [4.0, 4.0, 4.0])
    assert (point, low, high) == (3.0, 3.0, 3.0)  # no spread: every resample gives 3
    point, low, high = stats.difference_ci([0.0, 10.0], [5.0, 5.0], reps=2000)
    assert point == 0.0 and low == pytest.approx(-5.0) and high == pytest.approx(5.0)


def test_ratio_ci_by_hand():
    """A = [1, 3] resamples to means 1, 2, 3 with probabilities 1/4, 1/2, 1/4, so B's mean 4 over
    them is 4, 2 or 4/3: the 95% interval runs from 4/3 to 4 around the point ratio 2."""
    point, low, high = stats.ratio_ci([1.0, 3.0], [4.0, 4.0], reps=4000)
    assert point == 2.0 and low == pytest.approx(4 / 3) and high == pytest.approx(4.0)
    assert stats.ratio_ci([2.0, 2.0], [3.0, 3.0]) == (1.5, 1.5, 1.5)
    with pytest.raises(ValueError, match="A's scores must be positive, got min -1.0"):
        stats.ratio_ci([-1.0, 2.0], [3.0, 3.0])
    with pytest.raises(ValueError, match="ratio_ci: expected two non-empty 1-D arrays"):
        stats.ratio_ci([], [3.0, 3.0])


def test_reach_by_hand():
    """A's mean curve [0, 4, 8, 10] first reaches 0.9 x 10 at its 4th evaluation, B's [5, 9, 10,
    10] at its 2nd: B needs half A's steps, in every resample (each seed of A gets there at 4)."""
    steps = np.array([1000, 2000, 3000, 4000])
    a = np.array([[0.0, 5.0, 8.0, 10.0], [0.0, 3.0, 8.0, 10.0]])
    b = np.array([[5.0, 9.0, 10.0, 10.0], [5.0, 9.0, 10.0, 10.0]])
    r = compare.reach(a, b, steps, fraction=0.9, last=1, reps=500)
    assert r["threshold"] == 9.0 and r["steps"] == (4000, 2000) and r["ratio"] == (0.5, 0.5, 0.5)
    # A's seeds reach 9 at step 2000 and 4000: resamples of A take 2000 (both seeds the first,
    # probability 1/4) or 4000, so B / A is 1 or 0.5 around the point 0.5
    a = np.array([[0.0, 10.0, 10.0, 10.0], [0.0, 0.0, 0.0, 10.0]])
    ratio, low, high = compare.reach(a, b, steps, fraction=0.9, last=1, reps=2000)["ratio"]
    assert (ratio, low, high) == (0.5, 0.5, 1.0)
    never = np.array([[5.0, 6.0, 7.0, 8.0], [5.0, 6.0, 7.0, 8.0]])  # B stops below 9
    r_never = compare.reach(a, never, steps, fraction=0.9, last=1, reps=100)
    assert r_never["steps"] == (4000, np.inf) and r_never["ratio"] == (np.inf, np.inf, np.inf)
    # last=2: both of A's seeds end with a mean of 10 over their last two evaluations (threshold 9,
    # where the last evaluations alone, 12 and 10, would give 9.9 and step 4000); A's mean curve
    # [0, 5, 9, 11] reaches 9 at step 3000, seed 0 alone at 2000, B at once
    a_last = np.array([[0.0, 10.0, 8.0, 12.0], [0.0, 0.0, 10.0, 10.0]])
    b_flat = np.full((2, 4), 9.0)
    r = compare.reach(a_last, b_flat, steps, fraction=0.9, last=2, reps=2000)
    assert r["threshold"] == 9.0 and r["steps"] == (3000, 1000)
    assert r["ratio"] == pytest.approx((1 / 3, 1 / 3, 1 / 2))
    # a seed of A ending at or below 0: its resamples may never reach their own threshold, so no
    # reach is reported, as no ratio is
    a_sign = [Curve(steps, x) for x in (2 * a[0], -a[1])]  # final mean 5 > 0, yet a seed at -10
    assert "reach" not in compare.compare(a_sign, [Curve(steps, x) for x in b], reach_fraction=0.9)
    report = {"step": 4000, "seeds": (2, 2), "final_from": 4000, "reach": r_never}
    for key in ("final", "AUC"):
        report[key] = compare.compare(
            [Curve(steps, x) for x in a], [Curve(steps, x) for x in never]
        )[key]
    text = compare.format_report(report)
    assert "steps to 0.9 of A's final (9): A 4000, B not reached" in text
    assert "B / A: never  95% CI [never, never]\n  verdict: A faster" in text


def write_run(run_dir, seeds_finals):
    """A multi-seed run folder as train.py writes it: eval.csv with a seed column."""
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "eval.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "seed", "return_mean", "return_std", "q_bias"])
        for step in STEPS:
            for seed, final in seeds_finals.items():
                writer.writerow([step, seed, final * step / STEPS[-1], 0.0, 1000.0 - final])


def test_cli_reads_run_folders_and_glob_patterns_and_draws_both(tmp_path, capsys):
    write_run(tmp_path / "a_seeds0-2", {0: 100.0, 1: 110.0, 2: 90.0})
    for seed, final in enumerate([300.0, 310.0, 290.0]):
        write_run(tmp_path / f"b_seed{seed}", {seed: final})
    png = tmp_path / "cmp.png"
    compare.main(
        [
            str(tmp_path / "a_seeds0-2"),
            str(tmp_path / "b_seed*"),
            "--out",
            str(png),
            "--names",
            "single",
            "clipped",
            "--reps",
            "2000",
        ]
    )
    out = capsys.readouterr().out
    assert "single: 3 seeds, clipped: 3 seeds, to step 10000" in out
    assert "clipped - single, mean: +200  95% CI" in out and "verdict: clipped better" in out
    assert "clipped / single, mean: 3x  95% CI [2." in out  # 300 / 100; A's resamples 90-110
    # linear curves: A's mean reaches 0.9 of its final at 9000, B's (3x steeper) at 3000
    assert "steps to 0.9 of single's final (90): single 9000, clipped 3000" in out
    assert "clipped / single: 0.333x  95% CI [0.333x, 0.444x]\n  verdict: clipped faster" in out
    assert matplotlib.image.imread(png).shape[0] > 100
    with pytest.raises(SystemExit):
        compare.main([str(tmp_path / "nothing*"), str(tmp_path / "b_seed*")])
    assert "no such run folder" in capsys.readouterr().err


def test_cli_compares_another_metric_by_which_is_higher(tmp_path, capsys):
    """--metric q_bias: B's seeds (returns 300) have the lower bias (700 vs 900), and the verdict
    says higher, not better; a column the runs lack is an error naming it."""
    write_run(tmp_path / "a", {0: 100.0, 1: 110.0, 2: 90.0})
    write_run(tmp_path / "b", {0: 300.0, 1: 310.0, 2: 290.0})
    args = [str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "bias.png")]
    compare.main([*args, "--metric", "q_bias", "--reps", "2000"])
    out = capsys.readouterr().out
    assert "final: A 900, B 700" in out and "B - A, mean: -200" in out
    assert "B / A, mean: 0.778x" in out
    assert "verdict: A higher" in out
    assert "steps to" not in out  # reaching a share of A's final is about returns only
    with pytest.raises(SystemExit):
        compare.main([*args, "--metric", "q_true"])
    assert "its eval.csv has no 'q_true' values" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare.main([*args, "--reach", "1.5"])
    assert "--reach 1.5: must be in (0, 1], a fraction of A's final" in capsys.readouterr().err


def test_cli_compares_two_points_of_one_sweep_folder(tmp_path, capsys):
    """`FOLDER:POINT` picks a sweep point's seeds; a sweep folder without one, or a point it does
    not have, is an error that names the points it has."""
    sweep = tmp_path / "sweep"
    os.makedirs(sweep)
    with open(sweep / "eval.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "seed", "critic_lr", "return_mean"])
        for step in STEPS:
            for lr, final in (("0.0003", 100.0), ("0.001", 300.0)):
                writer.writerows([step, s, lr, (final + s) * step / STEPS[-1]] for s in range(3))
    a, b = f"{sweep}:critic_lr=0.0003", f"{sweep}:critic_lr=0.001"
    compare.main([a, b, "--out", str(tmp_path / "cmp.png"), "--reps", "2000"])
    out = capsys.readouterr().out
    assert "final: A 101, B 301" in out and "verdict: B better" in out
    with pytest.raises(SystemExit):
        compare.main([str(sweep), b, "--out", str(tmp_path / "x.png")])
    points = "['critic_lr=0.0003', 'critic_lr=0.001']"
    err = capsys.readouterr().err
    assert f"holds a sweep ({points}): compare one point, e.g. '{sweep}:critic_lr=0.0003'" in err
    with pytest.raises(SystemExit):
        compare.main([f"{sweep}:critic_lr=0.01", b, "--out", str(tmp_path / "x.png")])
    assert "has no sweep point 'critic_lr=0.01'" in capsys.readouterr().err


def test_cli_compares_a_group_of_a_benchmark_evals_csv(tmp_path, capsys):
    """`EVALS.csv:GROUP` reads one group (env and setting) of an evals.csv the benchmark wrote; a
    group it lacks, or a metric other than return_mean, is an error that says what it has."""
    evals = tmp_path / "evals.csv"
    with open(evals, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env", "seed", "step", "return_mean", "setting"])
        for step in STEPS:
            for setting, final in (("", 100.0), ("critic_lr=0.001", 500.0)):
                writer.writerows(
                    ["Walker2d-v5", s, step, (final + s) * step / STEPS[-1], setting]
                    for s in range(3)
                )
    write_run(tmp_path / "b", {0: 300.0, 1: 310.0, 2: 290.0})
    out_png = ["--out", str(tmp_path / "cmp.png"), "--reps", "2000"]
    compare.main([f"{evals}:Walker2d-v5", str(tmp_path / "b"), *out_png])
    assert "final: A 101, B 300" in capsys.readouterr().out
    compare.main([f"{evals}:Walker2d-v5 critic_lr=0.001", str(tmp_path / "b"), *out_png])
    assert "final: A 501, B 300" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        compare.main([f"{evals}:Hopper-v5", str(tmp_path / "b"), *out_png])
    assert "has no group 'Hopper-v5'; it has ['Walker2d-v5', 'Walker2d-v5 critic_lr" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        compare.main([f"{evals}:Walker2d-v5", str(tmp_path / "b"), *out_png, "--metric", "q_bias"])
    assert "holds return_mean only, not 'q_bias'" in capsys.readouterr().err


def test_last_n_averages_each_seeds_last_shared_evaluations(tmp_path, capsys):
    """Curves rise linearly to the final return: the mean of the last 3 of steps 1000..10000 is
    0.9 of it (9000/10000 on average). --last beyond the shared evaluations is an error."""
    write_run(tmp_path / "a", {0: 100.0, 1: 110.0, 2: 90.0})
    write_run(tmp_path / "b", {0: 300.0, 1: 310.0, 2: 290.0})
    args = [str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c.png")]
    compare.main([*args, "--last", "3", "--reps", "2000"])
    out = capsys.readouterr().out
    assert "final (mean of the evaluations at steps 8000-10000): A 90, B 270" in out
    assert "B - A, mean: +180" in out and "B / A, mean: 3x" in out
    with pytest.raises(SystemExit):
        compare.main([*args, "--last", "11"])
    assert "--last 11: must be 1 to 10, the evaluations both share" in capsys.readouterr().err
