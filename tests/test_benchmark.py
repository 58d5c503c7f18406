"""The benchmark and plot tools on a tiny budget: 300 steps, 2 seeds, 32x32 networks."""

import csv
import os
import shutil
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

from sac_jax import aggregate, benchmark, plot, trials, writers
from sac_jax.references import TARGETS, references
from tests.helpers import REPO, SUBPROCESS_ENV

TINY = {
    "hidden_dims": (32, 32),
    "batch_size": 32,
    "buffer_size": 1_000,
    "learning_starts": 100,
    "eval_interval": 100,
    "eval_episodes": 1,
    "log_interval": 100,
}
STEPS, SEEDS = 300, 2
ENVS = [env for env, _ in benchmark.SUITES["cpu-quick"]]


@pytest.fixture(scope="module")
def suite_out(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("cpu-quick"))
    run_dirs = benchmark.run_suite("cpu-quick", SEEDS, out, steps=STEPS, overrides=TINY, quiet=True)
    runs = trials.collect(run_dirs)
    benchmark.aggregate(runs, out, dict(benchmark.SUITES["cpu-quick"]), command="test")
    return out, run_dirs


def assert_png(path):
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert np.ptp(image) > 0  # something was drawn, not a blank canvas


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_outputs_exist(suite_out):
    out, _ = suite_out
    for name in ["evals.csv", "results.md"] + [f"{env}.png" for env in ENVS]:
        assert os.path.getsize(os.path.join(out, name)) > 0, name


def test_evals_csv_has_every_eval_point(suite_out):
    out, _ = suite_out
    with open(os.path.join(out, "evals.csv"), newline="") as f:
        assert next(csv.reader(f)) == ["env", "seed", "step", "return_mean", "setting"]
    rows = read_rows(os.path.join(out, "evals.csv"))
    evals_per_run = STEPS // TINY["eval_interval"]
    assert len(rows) == len(ENVS) * SEEDS * evals_per_run
    assert {(r["env"], int(r["seed"])) for r in rows} == {
        (e, s) for e in ENVS for s in range(SEEDS)
    }
    assert {int(r["step"]) for r in rows} == {100, 200, 300}
    assert {r["setting"] for r in rows} == {""}  # no sweep
    assert all(np.isfinite(float(r["return_mean"])) for r in rows)


def test_pngs_are_drawn(suite_out):
    out, _ = suite_out
    for env in ENVS:
        assert_png(os.path.join(out, f"{env}.png"))


def test_results_table_lists_references(suite_out):
    out, _ = suite_out
    with open(os.path.join(out, "results.md")) as f:
        text = f.read()
    (pendulum_ref,) = references("Pendulum-v1")
    assert pendulum_ref.label in text and "| -150.0 | 20000 |" in text
    assert "| InvertedPendulum-v5 | 20000 | 2 | 300 |" in text  # no published reference: dashes
    for column in ("ours final (mean +- std)", "source", "ratio"):
        assert column in text


def test_finished_runs_are_skipped(suite_out):
    out, run_dirs = suite_out
    before = {d: os.path.getmtime(os.path.join(d, "eval.csv")) for d in run_dirs}
    assert (
        benchmark.run_suite("cpu-quick", SEEDS, out, steps=STEPS, overrides=TINY, quiet=True)
        == run_dirs
    )
    assert before == {d: os.path.getmtime(os.path.join(d, "eval.csv")) for d in run_dirs}


def test_a_run_stopped_before_its_first_save_restarts_clean(tmp_path, monkeypatch):
    """Its folder (an empty checkpoints/ that train() made, partial logs, a launch record) is
    removed before it trains again; a run with a saved step is resumed in place."""
    out, env_id = str(tmp_path), ENVS[0]
    stopped, saved = (benchmark.suite_run_dir(out, env_id, seed) for seed in (0, 1))
    for run_dir, step in ((stopped, None), (saved, "100")):
        os.makedirs(os.path.join(run_dir, "checkpoints", step or ""))
        with open(os.path.join(run_dir, "launches.jsonl"), "w") as f:
            f.write('{"step": 0}\n')
    trained = []

    def fake_train(config, run_dir, quiet):
        trained.append((run_dir, sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else None))

    monkeypatch.setattr("sac_jax.loop.train", fake_train)
    monkeypatch.setattr(benchmark, "SUITES", {"cpu-quick": [(env_id, 300)]})
    benchmark.run_suite("cpu-quick", 2, out, overrides=TINY, quiet=True)
    assert trained == [(stopped, None), (saved, ["checkpoints", "launches.jsonl"])]


def test_runs_root_tabulates_existing_runs(suite_out, tmp_path):
    out, _ = suite_out
    benchmark.main(
        ["--runs-root", os.path.join(out, "runs"), "--out", str(tmp_path), "--spread", "minmax"]
    )
    assert read_rows(tmp_path / "evals.csv") == read_rows(os.path.join(out, "evals.csv"))
    assert_png(tmp_path / "Pendulum-v1.png")
    text = (tmp_path / "results.md").read_text()
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True)
    for env in ENVS:  # each suite run folder: its steps, a positive time, its code and machine
        (row,) = [line for line in text.splitlines() if line.startswith(f"| runs/{env}/seed0 |")]
        cells = [cell.strip() for cell in row.strip("|\n").split("|")]
        _, trials, step, hours, commit, machine = cells
        assert (trials, step) == ("1", str(STEPS)) and float(hours) > 0
        assert commit.split("+")[0] == (head.stdout[:12] if head.returncode == 0 else "-")
        assert machine.endswith(f" x{os.cpu_count()}")


def test_a_committed_evals_csv_tabulates_like_its_runs(suite_out, tmp_path):
    """--evals reads back the evals.csv the command wrote: the same curves and table rows."""
    out, _ = suite_out
    benchmark.main(["--runs-root", os.path.join(out, "runs"), "--out", str(tmp_path / "runs")])
    evals = str(tmp_path / "runs" / "evals.csv")
    benchmark.main(["--evals", evals, "--out", str(tmp_path / "evals")])
    assert read_rows(tmp_path / "evals" / "evals.csv") == read_rows(evals)
    table = lambda d: [x for x in open(d / "results.md") if x.startswith("| Pendulum")]  # noqa: E731
    assert table(tmp_path / "evals") == table(tmp_path / "runs") != []


def test_plot_cli(suite_out, tmp_path):
    _, run_dirs = suite_out
    png = tmp_path / "curves.png"
    plot.main([*run_dirs, "--out", str(png), "--reference", "20000:-150:SB3 RL Zoo: Pendulum"])
    assert_png(png)


def test_seed_stats_uses_steps_all_seeds_reached():
    a = plot.Curve(np.array([10, 20, 30]), np.array([1.0, 2.0, 3.0]))
    b = plot.Curve(np.array([10, 20]), np.array([3.0, 6.0]))
    steps, mean, low, high = plot.seed_stats([a, b], "std")
    np.testing.assert_array_equal(steps, [10, 20])
    np.testing.assert_allclose(mean, [2.0, 4.0])
    np.testing.assert_allclose(high - mean, [1.0, 2.0])
    _, _, low, high = plot.seed_stats([a, b], "minmax")
    np.testing.assert_allclose(low, [1.0, 2.0])
    np.testing.assert_allclose(high, [3.0, 6.0])


def test_every_suite_env_has_a_config():
    for suite in benchmark.SUITES.values():
        for env, budget in suite:
            config = benchmark.load_config(env, budget, seed=3)
            assert (config.env_id, config.total_steps, config.seed) == (env, budget, 3)


def write_evals(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "seed", "tau", "return_mean", "return_std"])
        writer.writerows(rows)


def test_a_runs_eval_rows_are_read_from_all_its_processes(tmp_path):
    """A run started by two processes (one sweep point each, both seed 3) and resumed by one at
    step 200: one run, its rows merged by seed and sweep point and sorted by step."""
    run = str(tmp_path / "runs" / "tau_sweep")
    write_evals(os.path.join(run, "eval.csv"), [(300, 3, 0.01, -3.0, 0), (300, 3, 0.02, -30.0, 0)])
    write_evals(
        os.path.join(run, "process0", "eval.csv"),
        [(100, 3, 0.01, -1.0, 0), (200, 3, 0.01, -2.0, 0)],
    )
    write_evals(
        os.path.join(run, "process1", "eval.csv"),
        [(100, 3, 0.02, -10.0, 0), (200, 3, 0.02, -20.0, 0)],
    )
    rows = writers.read_rows(run, "eval.csv")
    assert [(r["step"], r["tau"]) for r in rows] == [
        ("100", "0.01"),
        ("100", "0.02"),
        ("200", "0.01"),
        ("200", "0.02"),
        ("300", "0.01"),
        ("300", "0.02"),
    ]
    points = plot.read_evals(run)
    assert list(points) == ["tau=0.01", "tau=0.02"]
    for (curve,), want in zip(points.values(), ([-1.0, -2.0, -3.0], [-10.0, -20.0, -30.0])):
        assert list(curve.steps) == [100, 200, 300] and list(curve.returns) == want
    assert trials.find_runs(str(tmp_path)) == [run]  # not its process folders
    with open(os.path.join(run, "process1", "eval.csv"), "a") as f:
        f.write("400,3")  # a row process 1 is still writing when process 0 redraws the curves
    assert [list(c.steps) for (c,) in plot.read_evals(run).values()] == [[100, 200, 300]] * 2
    with pytest.raises(
        FileNotFoundError, match="no eval.csv in .*empty.* or its processP/ folders"
    ):
        plot.read_evals(str(tmp_path / "empty"))


def fake_run(run_dir, env_id, seed, returns, every=100_000):
    """A finished run's files as train.py writes them: config.json and eval.csv."""
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        f.write(f'{{"env_id": "{env_id}", "seed": {seed}, "total_steps": {every * len(returns)}}}')
    with open(os.path.join(run_dir, "eval.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "seed", "return_mean", "return_std"])
        writer.writerows((every * (i + 1), seed, r, 0.0) for i, r in enumerate(returns))


def test_normalized_scores_take_each_seed_at_the_task_budget():
    curve = lambda *returns: plot.Curve(np.array([100_000, 200_000, 300_000]), np.array(returns))  # noqa: E731
    curves = {
        "Hopper-v5": [curve(1.0, 2.0, 1400.0), curve(1.0, 2.0, 2800.0)],  # target 2800 at 300k
        "Humanoid-v5": [curve(1.0, 2.0, 5000.0)],  # its budget is 1M: not reached, left out
        "Pendulum-v1": [curve(-1.0, -2.0, -3.0)],  # no target
    }
    scores = aggregate.normalized_scores(curves)
    assert list(scores) == ["Hopper-v5"]
    np.testing.assert_allclose(scores["Hopper-v5"], [0.5, 1.0])
    late = plot.Curve(np.array([250_000, 310_000]), np.array([2100.0, 9999.0]))
    assert aggregate.score_at(late, 300_000) == 2100.0  # the last eval at or before the budget
    assert aggregate.score_at(late, 400_000) is None


def test_mujoco_suite_aggregates_over_tasks_with_confidence_intervals(tmp_path):
    """Two tasks at their budgets, three seeds each: the IQM of the six normalized scores."""
    runs = tmp_path / "runs"
    normalized = {"HalfCheetah-v5": [0.8, 0.9, 1.0], "Ant-v5": [1.1, 1.2, 2.0]}
    for env_id, values in normalized.items():
        _, target = TARGETS[env_id]
        for seed, v in enumerate(values):
            fake_run(str(runs / env_id / f"seed{seed}"), env_id, seed, [0.0, 0.0, v * target])
    out = tmp_path / "out"
    benchmark.main(["--runs-root", str(runs), "--out", str(out)])
    text = (out / "results.md").read_text()
    iqm = np.mean([0.9, 1.0, 1.1, 1.2])  # six scores: the middle four
    assert (
        f"| IQM | {iqm:.3f} |" in text
        and f"| mean | {np.mean([0.8, 0.9, 1.0, 1.1, 1.2, 2.0]):.3f} |" in text
    )
    assert "HalfCheetah-v5 (3 seeds)" in text and "Ant-v5 (3 seeds)" in text
    assert_png(out / "profile.png")
    assert_png(out / "Ant-v5.png")
    assert "SAC in Tianshou, v3, lr 1e-3, fixed alpha 0.2" in text  # its 300k point


def test_a_non_editable_install_finds_its_configs_and_published_curves(tmp_path):
    """Installed as a wheel (not editable), run outside the repository: the task configs and the
    anchor CSV come from the installed packages, not from paths next to the source tree."""
    source, target = tmp_path / "source", tmp_path / "site"
    skip = shutil.ignore_patterns(
        ".*", "build", "*.egg-info", "__pycache__", "runs", "tests", "docs"
    )
    shutil.copytree(REPO, source, ignore=skip)  # a clean tree: the build writes into it
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            source,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    script = (
        "import sac_jax, configs; from sac_jax import benchmark, references; "
        f"assert sac_jax.__file__.startswith({str(target)!r}), sac_jax.__file__; "
        "print(benchmark.load_config('Walker2d-v5', 1000, 0).env_id, "
        "len(references.references('Ant-v5')))"
    )
    env = {**SUBPROCESS_ENV, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["Walker2d-v5", "6"]


def fake_sweep(run_dir, env_id, returns, every=100_000):
    """A vmapped sweep's files: config.json, and eval.csv rows tagged with seed and critic_lr;
    `returns`: (critic_lr, seed) -> the trial's returns."""
    os.makedirs(run_dir, exist_ok=True)
    total = every * len(next(iter(returns.values())))
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        f.write(f'{{"env_id": "{env_id}", "seed": 0, "total_steps": {total}}}')
    with open(os.path.join(run_dir, "eval.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "seed", "critic_lr", "return_mean"])
        for i in range(total // every):
            writer.writerows((every * (i + 1), seed, lr, r[i]) for (lr, seed), r in returns.items())


def test_a_sweep_folder_is_one_group_per_sweep_point(tmp_path):
    runs = tmp_path / "runs"
    _, target = TARGETS["Walker2d-v5"]
    returns = {
        (lr, seed): [0.0, 0.0, (0.5 if lr == "0.0003" else 1.0) * target + seed]
        for lr in ("0.0003", "0.001")
        for seed in (0, 1)
    }
    fake_sweep(str(runs / "walker_sweep"), "Walker2d-v5", returns)
    fake_run(str(runs / "hopper" / "seed4"), "Hopper-v5", 4, [0.0, 1.0, 2800.0])
    assert [t.seed for t in plot.read_seed_curves(str(runs / "walker_sweep"))] == [0, 1, 0, 1]

    out = tmp_path / "out"
    benchmark.main(["--runs-root", str(runs), "--out", str(out)])
    text = (out / "results.md").read_text()
    slow = f"{0.5 * target + 0.5:.1f} +- 0.5"  # seeds 0 and 1: mean +0.5, std 0.5
    per_seed = f"{0.5 * target:.1f}, {0.5 * target + 1:.1f}"  # the final return of seeds 0, 1
    assert f"| Walker2d-v5 critic_lr=0.0003 | 300000 | 2 | 300000 | {slow} | {per_seed} |" in text
    assert (
        f"| Walker2d-v5 critic_lr=0.001 | 300000 | 2 | 300000 | {target + 0.5:.1f} +- 0.5 |" in text
    )
    assert "| Hopper-v5 | 300000 | 1 | 300000 | 2800.0 +- 0.0 |" in text
    assert "| runs/walker_sweep | 4 | 300000 | - |" in text  # no train.csv: no wall-clock time
    assert "no aggregate over tasks" in text
    rows = read_rows(out / "evals.csv")
    assert {(r["setting"], r["seed"]) for r in rows if r["env"] == "Walker2d-v5"} == {
        (f"critic_lr={lr}", str(seed)) for lr, seed in returns
    }
    assert_png(out / "Walker2d-v5.png")

    # one setting per task: the aggregate over Walker2d (2 seeds) and Hopper (1 seed)
    only = ["Walker2d-v5 critic_lr=0.001", "Hopper-v5"]
    benchmark.main(["--runs-root", str(runs), "--only", *only, "--out", str(out)])
    text = (out / "results.md").read_text()
    assert "critic_lr=0.0003" not in text
    scores = [1.0 + 0.0 / target, 1.0 + 1.0 / target, 1.0]
    assert f"| mean | {np.mean(scores):.3f} |" in text
    assert "Walker2d-v5 (2 seeds)" in text and "Hopper-v5 (1 seeds)" in text
    assert "--only 'Walker2d-v5 critic_lr=0.001' Hopper-v5 --out" in text  # pastes as it ran


def test_a_named_runs_root_tells_configurations_of_one_env_apart(tmp_path):
    """Two configurations' runs of HalfCheetah with the same seeds: one group each."""
    for name, final in (("sac", 8000.0), ("crossq", 9000.0)):
        for seed in (0, 1):
            fake_run(str(tmp_path / name / f"seed{seed}"), "HalfCheetah-v5", seed, [final + seed])
    out = tmp_path / "out"
    args = ["--runs-root", str(tmp_path / "sac"), "SAC", "--runs-root", str(tmp_path / "crossq")]
    benchmark.main([*args, "CrossQ-512", "--out", str(out)])
    text = (out / "results.md").read_text()
    assert "| HalfCheetah-v5 SAC | 100000 | 2 | 100000 | 8000.5 +- 0.5 | 8000.0, 8001.0 |" in text
    assert "| HalfCheetah-v5 CrossQ-512 | 100000 | 2 | 100000 | 9000.5 +- 0.5 |" in text
    rows = read_rows(out / "evals.csv")
    assert {r["setting"] for r in rows} == {"SAC", "CrossQ-512"}


def test_bad_inputs_are_refused_by_name(tmp_path, capsys, monkeypatch):
    runs = tmp_path / "runs"
    fake_run(str(runs / "a"), "Hopper-v5", 0, [1.0])
    fake_run(str(runs / "b"), "Hopper-v5", 0, [2.0])  # the same seed again
    with pytest.raises(SystemExit):
        benchmark.main(["--runs-root", str(runs), "--out", str(tmp_path / "out")])
    assert "Hopper-v5 seed 0 appears twice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        benchmark.main(["--runs-root", str(runs / "a"), "--only", "Ant-v5", "--out", "x"])
    assert "--only ['Ant-v5']: no such group; the inputs hold ['Hopper-v5']" in (
        capsys.readouterr().err
    )
    not_evals = tmp_path / "eval.csv"  # a run's own eval.csv has no env column
    not_evals.write_text("step,seed,return_mean\n100,0,1.0\n")
    with pytest.raises(SystemExit):
        benchmark.main(["--evals", str(not_evals), "--out", "x"])
    assert "not an evals.csv of this command (no column ['env'])" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        benchmark.main(["--suite", "cpu-quick", "--runs-root", str(runs), "--out", "x"])
    assert "either --suite, or --runs-root" in capsys.readouterr().err
    monkeypatch.setattr("sac_jax.loop.train", lambda *_, **__: pytest.fail("it trained"))
    with pytest.raises(SystemExit):  # refused before anything trains
        benchmark.main(["--suite", "cpu-quick", "--steps", "0", "--out", str(tmp_path / "s")])
    assert "--steps 0: must be a positive number of env steps" in capsys.readouterr().err


def test_wall_clock_is_summed_from_the_logged_rates(tmp_path):
    """Rows every 1000 steps at 100, 200 and 50 steps/s, two trials logging the same rate:
    10 + 5 + 20 seconds."""
    run = tmp_path / "run"
    os.makedirs(run)
    with open(run / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "seed", "steps_per_sec"])
        rows = [(1000, 0, 100), (1000, 1, 100), (2000, 0, 200), (2000, 1, 200)]
        writer.writerows(rows + [(3000, 0, 50), (3000, 1, 50)])
    assert trials.wall_clock_hours(str(run)) == pytest.approx(35 / 3600)
    assert trials.wall_clock_hours(str(tmp_path / "none")) is None
