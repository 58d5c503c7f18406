"""`python -m bench.wallclock`: the configs it runs, how it reads a run's rate, and its table. One
tiny real run checks that train.py takes its command line; no timing is asserted."""

import csv

import pytest

from bench import speed, wallclock


def write_train_csv(workdir, rates: dict[int, float], seeds: int = 2):
    workdir.mkdir()
    with open(workdir / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "seed", "steps_per_sec"])
        for step, rate in rates.items():
            writer.writerows([step, seed, rate] for seed in range(seeds))


def test_the_steady_rate_is_time_weighted_over_the_intervals_between_compile_and_eval(tmp_path):
    # intervals of 500 steps: 1500 compiles, 3000 evaluates; 2000 takes 5 s, 2500 takes 1 s
    rates = {1000: 2000.0, 1500: 10.0, 2000: 100.0, 2500: 500.0, 3000: 20.0}
    write_train_csv(tmp_path / "run", rates)
    assert speed.steady_steps_per_sec(str(tmp_path / "run"), 1500, 3000, 500) == 1000 / 6
    with pytest.raises(ValueError, match=r"no log step in \(3000, 3500\)"):
        speed.steady_steps_per_sec(str(tmp_path / "run"), 3000, 3500, 500)


def test_the_rows_are_the_envs_sac_and_crossq_at_widths_256_and_512():
    rows = wallclock.rows("Walker2d-v5")
    assert list(rows) == ["SAC", "CrossQ-256", "CrossQ-512"]
    assert rows["SAC"] == (speed.env_config("Walker2d-v5"), {})
    assert rows["SAC"][0].endswith("configs/walker2d.py")
    config, overrides = rows["CrossQ-512"]
    assert config.endswith("configs/variants/crossq.py")
    assert overrides == {"env_id": "Walker2d-v5", "critic_hidden_dims": "(512,512)"}


def test_each_round_divides_sacs_rate_by_each_rows_rate_in_that_round(monkeypatch, tmp_path):
    rates = iter([100.0, 80.0, 40.0, 90.0, 90.0, 30.0])  # round 0 then round 1, rows in order
    monkeypatch.setattr(wallclock, "steps_per_sec", lambda *args: next(rates))
    results = wallclock.measure("Walker2d-v5", seeds=3, rounds=2, steps=3000, tmp=str(tmp_path))
    assert [r["config"] for r in results] == ["SAC", "CrossQ-256", "CrossQ-512"]
    assert results[0]["ratio"] == [1.0, 1.0]
    assert results[1]["ratio"] == [100 / 80, 1.0] and results[2]["ratio"] == [100 / 40, 3.0]
    text = wallclock.table(results, "Walker2d-v5", 3, 2, 3000)
    assert "`python -m bench.wallclock --env Walker2d-v5 --seeds 3 --rounds 2 --steps 3000`" in text
    assert "| CrossQ-512 | 35.0 | 2.75 (2.50-3.00) |" in text


def test_a_tiny_crossq_run_trains_and_reports_its_rate(tmp_path):
    config, overrides = wallclock.rows("Pendulum-v1")["CrossQ-256"]
    overrides = {**overrides, "hidden_dims": "(8,8)", "critic_hidden_dims": "(8,8)"}
    workdir = tmp_path / "run"
    rate = wallclock.steps_per_sec(config, overrides, seeds=2, steps=500, workdir=str(workdir))
    assert rate > 0
    with open(workdir / "train.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["seed"] for r in rows} == {"0", "1"}
    assert max(int(r["step"]) for r in rows) == 2500
