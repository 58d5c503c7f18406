"""Many seeds in one process: each seed equals its single-seed run; sharded equals unsharded;
logs carry the seed; a multi-seed run resumes exactly from its per-seed checkpoints."""

import os
import shutil

import jax
import numpy as np
import pytest

from sac_jax import loop
from sac_jax.checkpointing import CheckpointError
from sac_jax.config import validate
from sac_jax.placement import placement
from sac_jax.plot import group_runs
from sac_jax.plot import main as plot_main
from sac_jax.replay import ReplayBuffer, ReplayBuffers
from sac_jax.workdir import saved_layout
from sac_jax.writers import read_rows
from tests.helpers import (
    SUBPROCESS_ENV,
    assert_trees_close,
    assert_trees_identical,
    restore,
    run_python,
    small_config,
)


def test_seed_buffers_store_and_sample_as_each_seed_alone():
    """One write for all seeds into one seed-axis array: same rows, pointers and draws as separate
    buffers, each adding its own steps."""
    rng = np.random.default_rng(0)
    buffers = ReplayBuffers(50, 3, 2, seeds=[5, 6])  # small: wraps around, episodes of any length
    alone = [ReplayBuffer(50, 3, 2, seed=s) for s in (5, 6)]
    for _ in range(120):
        obs, action, next_obs = (
            rng.normal(size=(2, 3)),
            rng.normal(size=(2, 2)),
            rng.normal(size=(2, 3)),
        )
        reward, terminated, truncated = (
            rng.normal(size=2),
            rng.random(2) < 0.05,
            rng.random(2) < 0.05,
        )
        buffers.add(obs, action, reward, terminated, truncated, next_obs)
        for i in range(2):
            alone[i].add(obs[i], action[i], reward[i], terminated[i], truncated[i], next_obs[i])
    for i in range(2):
        for name, want in alone[i].state_dict().items():  # every row and counter
            np.testing.assert_array_equal(buffers[i].state_dict()[name], want)
    batch = buffers.sample(8, 3)
    assert batch.obs.shape == (2, 3, 8, 3)
    for i in range(2):
        for got, want in zip(batch, alone[i].sample(8, 3), strict=True):
            np.testing.assert_array_equal(got[i], want)


def test_each_seed_matches_its_single_seed_run(two_seeds, tmp_path):
    """Same init, warm-up actions, exploration keys, env and buffer sampling as seed 4 alone.

    Not bit-identical: the vmapped matmuls of 2 seeds may round differently from those of 1.
    """
    alone = str(tmp_path / "alone")
    loop.train(small_config(seed=4), alone, quiet=True)
    seed4 = small_config(seed=4)
    assert_trees_close(
        restore(os.path.join(two_seeds, "seed4"), seed4)[1], restore(alone, seed4)[1]
    )
    multi = [r for r in read_rows(two_seeds, "eval.csv") if r["seed"] == "4"]
    single = read_rows(alone, "eval.csv")
    assert [r["step"] for r in multi] == [r["step"] for r in single] == ["100", "200", "300"]
    np.testing.assert_allclose(
        [float(r["return_mean"]) for r in multi],
        [float(r["return_mean"]) for r in single],
        rtol=1e-5,
    )


def test_logs_have_one_row_per_seed_per_interval(two_seeds):
    trains = read_rows(two_seeds, "train.csv")
    steps_seeds = [(r["step"], r["seed"]) for r in trains[:4]]
    assert steps_seeds == [("50", "3"), ("50", "4"), ("100", "3"), ("100", "4")]
    assert len(trains) == 12 and "critic_loss" in trains[-1]
    evals = read_rows(two_seeds, "eval.csv")
    assert [r["seed"] for r in evals] == ["3", "4"] * 3
    assert evals[-1]["return_mean"] != evals[-2]["return_mean"]  # independent seeds


def test_plot_draws_the_seeds_of_one_run_as_mean_and_spread(two_seeds, tmp_path):
    (curves,) = group_runs([two_seeds]).values()
    assert len(curves) == 2 and list(curves[0].steps) == [100, 200, 300]
    plot_main([two_seeds, "--out", str(tmp_path / "curve.png")])
    assert os.path.getsize(tmp_path / "curve.png") > 0


def test_plot_labels_keep_configurations_of_one_task_apart(two_seeds, tmp_path):
    """Two run dirs of one env merge into one curve by default; --labels draws one per dir."""
    (merged,) = group_runs([two_seeds, two_seeds]).values()
    assert len(merged) == 4
    groups = group_runs([two_seeds, two_seeds], labels=["single", "clipped"])
    assert {k: len(v) for k, v in groups.items()} == {"single": 2, "clipped": 2}
    plot_main([two_seeds, two_seeds, "--labels", "a", "b", "--out", str(tmp_path / "ab.png")])
    assert os.path.getsize(tmp_path / "ab.png") > 0
    with pytest.raises(SystemExit):
        plot_main([two_seeds, two_seeds, "--labels", "a", "--out", str(tmp_path / "x.png")])


def test_multi_seed_run_resumes_exactly(two_seeds, tmp_path):
    workdir = str(tmp_path)
    loop.train(small_config(seed=3, num_seeds=2, total_steps=150), workdir, quiet=True)
    loop.train(small_config(seed=3, num_seeds=2), workdir, quiet=True)
    for seed in (3, 4):
        config = small_config(seed=seed)
        straight, resumed = (
            restore(os.path.join(w, f"seed{seed}"), config) for w in (two_seeds, workdir)
        )
        assert resumed[2].step == config.total_steps
        assert_trees_identical(straight[1], resumed[1])


def test_a_stop_between_two_seeds_saves_resumes_and_saves_again(two_seeds, tmp_path):
    """Killed after seed3 saved step 300 and before seed4 did: the run resumes both from 150,
    deletes seed3's 300 (the resumed run replaces it), saves 200 for both at its end, and
    resumes again from there."""
    workdir = str(tmp_path / "copy")
    shutil.copytree(two_seeds, workdir)
    shutil.rmtree(os.path.join(workdir, "seed4", "checkpoints", "300"))

    def steps(seed):
        return sorted(int(s) for s in os.listdir(os.path.join(workdir, seed, "checkpoints")))

    loop.train(small_config(seed=3, num_seeds=2, total_steps=200), workdir, quiet=True)
    assert steps("seed3") == steps("seed4") == [150, 200]
    loop.train(small_config(seed=3, num_seeds=2), workdir, quiet=True)
    assert steps("seed3") == steps("seed4") == [200, 300]


def test_train_returns_every_trials_last_evaluation(two_seeds, tmp_path):
    """A finished run resumed at its end trains nothing and reports each seed's last evaluation."""
    workdir = str(tmp_path / "copy")
    shutil.copytree(two_seeds, workdir)
    results = loop.train(small_config(seed=3, num_seeds=2), workdir, quiet=True)
    last = {r["seed"]: r for r in read_rows(two_seeds, "eval.csv") if r["step"] == "300"}
    assert [r["seed"] for r in results] == [3, 4]
    for r in results:
        assert r["return_mean"] == float(last[str(r["seed"])]["return_mean"])
        assert r["return_std"] == float(last[str(r["seed"])]["return_std"])


def test_other_num_seeds_on_a_workdir_is_an_error(two_seeds):
    for seed, num_seeds in ((3, 1), (3, 3)):
        with pytest.raises(CheckpointError, match="use the num_seeds, seed and sweep"):
            loop.train(small_config(seed=seed, num_seeds=num_seeds), two_seeds, quiet=True)


def test_a_run_stopped_during_its_first_saves_starts_again_from_step_0(two_seeds, tmp_path):
    """Seed 3 saved step 150, seed 4 had not (its checkpoint folder is empty): the same command
    warns, deletes seed 3's step, and trains both from scratch, as the uninterrupted run did."""
    workdir = str(tmp_path)
    loop.train(small_config(seed=3, num_seeds=2, total_steps=150), workdir, quiet=True)
    shutil.rmtree(os.path.join(workdir, "seed4", "checkpoints", "150"))
    with pytest.warns(UserWarning, match=r"run\(s\) \['seed4'\] .* starts again from step 0"):
        loop.train(small_config(seed=3, num_seeds=2), workdir, quiet=True)
    for seed in (3, 4):
        config = small_config(seed=seed)
        straight, again = (
            restore(os.path.join(w, f"seed{seed}"), config) for w in (two_seeds, workdir)
        )
        assert_trees_identical(straight[1], again[1])
    assert read_rows(workdir, "eval.csv") == read_rows(two_seeds, "eval.csv")


def test_a_run_past_its_first_save_is_not_restarted_for_a_seed_without_checkpoints(
    two_seeds, tmp_path
):
    """Seeds 3 and 4 saved twice; seed 5's folder is empty (an earlier start that failed before
    saving). num_seeds=3 is another run's command: refused, and no checkpoint is deleted."""
    workdir = str(tmp_path / "copy")
    shutil.copytree(two_seeds, workdir)
    os.makedirs(os.path.join(workdir, "seed5", "checkpoints"))
    before = sorted(os.listdir(os.path.join(workdir, "seed3", "checkpoints")))
    with pytest.raises(CheckpointError, match=r"run\(s\) \['seed5'\] .* saved more than once"):
        loop.train(small_config(seed=3, num_seeds=3), workdir, quiet=True)
    for seed in (3, 4):
        assert sorted(os.listdir(os.path.join(workdir, f"seed{seed}", "checkpoints"))) == before
    assert read_rows(workdir, "eval.csv") == read_rows(two_seeds, "eval.csv")


def test_empty_checkpoint_folders_do_not_fix_the_layout(tmp_path):
    """A run stopped before its first save leaves empty folders; they bind no num_seeds."""
    os.makedirs(tmp_path / "checkpoints")
    os.makedirs(tmp_path / "seed0" / "checkpoints")
    assert saved_layout(str(tmp_path)) is None
    os.makedirs(tmp_path / "seed0" / "checkpoints" / "150")
    assert saved_layout(str(tmp_path)) == "multi"
    os.makedirs(tmp_path / "checkpoints" / "150")
    assert saved_layout(str(tmp_path)) == "single"


def test_a_workdir_of_other_seeds_is_refused_and_left_alone(two_seeds):
    def snapshot():
        paths = [os.path.join(d, f) for d, _, fs in os.walk(two_seeds) for f in fs if f != ".lock"]
        return {p: (os.path.getsize(p), os.path.getmtime(p)) for p in paths}

    before = snapshot()
    for seed, num_seeds in ((5, 2), (3, 3)):
        with pytest.raises(CheckpointError, match="use the num_seeds, seed and sweep"):
            loop.train(small_config(seed=seed, num_seeds=num_seeds), two_seeds, quiet=True)
    assert snapshot() == before
    assert sorted(os.listdir(two_seeds)) == sorted(
        [".lock", "config.json", "curves.png", "eval.csv", "launches.jsonl", "train.csv"]
        + ["seed3", "seed4"]
        + [f for f in os.listdir(two_seeds) if f.startswith("events.out")]
    )


def test_num_seeds_is_validated():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="num_seeds"):
            validate(small_config(num_seeds=bad))
    with pytest.raises(ValueError, match="3 runs .* cannot be split over 2 devices"):
        placement(3, 32, devices=jax.devices() * 2)


def test_two_seeds_sharded_over_two_host_devices_match_unsharded(two_seeds, tmp_path):
    workdir = str(tmp_path / "sharded")
    script = f"""
        import jax
        from sac_jax import loop
        from tests.helpers import small_config
        assert jax.device_count() == 2, jax.devices()
        loop.train(small_config(seed=3, num_seeds=2), {workdir!r})
    """
    env = {**SUBPROCESS_ENV, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    out = run_python(script, env)
    assert "seeds 3..4 on 2 device(s)" in out
    for seed in (3, 4):
        config = small_config(seed=seed)
        sharded = restore(os.path.join(workdir, f"seed{seed}"), config)[1]
        assert_trees_close(sharded, restore(os.path.join(two_seeds, f"seed{seed}"), config)[1])
