"""Sweeps: list-valued numeric hyperparameters train their cross product in one process; each run
equals its single run, compiles once with the others, and is tagged in logs and checkpoints."""

import os

import numpy as np
import pytest

from sac_jax import create_state, loop, update_step, update_steps
from sac_jax.config import ConfigError, validate
from sac_jax.optim import learning_rate
from sac_jax.placement import placement
from sac_jax.plot import group_runs
from sac_jax.policy import load_policy
from sac_jax.sweep import Trial, expand_trials, trial_config
from sac_jax.writers import read_rows
from tests.helpers import (
    ACTION_DIM,
    OBS_DIM,
    assert_trees_close,
    make_batch,
    restore,
    run_cli,
    small_config,
)

SWEEP = dict(critic_lr=[1e-3, 3e-4], tau=[0.005, 0.02])


def test_expand_runs_is_the_cross_product_with_the_seeds():
    config = small_config(seed=5, num_seeds=2, **SWEEP)
    runs = expand_trials(config)
    assert [(r.values["critic_lr"], r.values["tau"], r.seed) for r in runs] == [
        (1e-3, 0.005, 5),
        (1e-3, 0.005, 6),
        (1e-3, 0.02, 5),
        (1e-3, 0.02, 6),
        (3e-4, 0.005, 5),
        (3e-4, 0.005, 6),
        (3e-4, 0.02, 5),
        (3e-4, 0.02, 6),
    ]
    assert runs[1].name == "critic_lr=0.001,tau=0.005,seed6"
    assert runs[1].tags == {"seed": 6, "critic_lr": 1e-3, "tau": 0.005}
    single = trial_config(config, runs[1])
    assert (single.seed, single.num_seeds, single.critic_lr, single.tau) == (6, 1, 1e-3, 0.005)
    validate(single)
    assert expand_trials(small_config(seed=2)) == [Trial(2, {})]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("tau", [0.01, 2.0], "every value must be in (0, 1]"),
        ("critic_lr", [], "non-empty list of distinct values"),
        ("gamma", [0.9, 0.9], "non-empty list of distinct values"),
        ("actor_lr", ["fast"], "must be a number or a list of numbers"),
        ("target_entropy", [None, -2.0], "must be a number or a list of numbers"),
        ("reward_scale", "abc", "must be a number or a list of numbers"),
    ],
)
def test_bad_sweeps_are_rejected_with_the_field_named(field, value, message):
    with pytest.raises(ConfigError, match=rf"config\.{field}=.*{message[:20]}"):
        validate(small_config(**{field: value}))


def test_only_state_leaves_can_be_swept():
    """A list for a field that shapes the program is refused (ml_collections' type check from a
    config file, the flag parser from the command line): it cannot share one compiled update."""
    with pytest.raises(TypeError, match="batch_size"):
        small_config(batch_size=[32, 64])
    result = run_cli(
        "train.py", "--config", "configs/pendulum.py", "--config.batch_size=[32,64]", timeout=120
    )
    assert result.returncode != 0 and "batch_size" in result.stderr


def test_create_state_needs_one_value_per_swept_field():
    config = small_config(**SWEEP)
    with pytest.raises(ConfigError, match=r"\['critic_lr', 'tau'\]"):
        create_state(config, 3, 1)
    with pytest.raises(ConfigError, match="batch_size"):
        create_state(small_config(), 3, 1, values={"batch_size": 64})
    state = create_state(config, 3, 1, values={"critic_lr": 1e-3, "tau": 0.02})
    np.testing.assert_allclose(learning_rate(state.critic.opt_state), 1e-3)
    np.testing.assert_allclose(state.scalars.tau, 0.02)


def test_swept_values_are_leaves_one_compile_serves_all(compile_counter):
    """The same update program runs states built with different values, and the values act."""
    base = small_config()
    states = [
        create_state(base, OBS_DIM, ACTION_DIM, values=v)
        for v in ({}, {"critic_lr": 1e-2, "tau": 0.5, "gamma": 0.5, "reward_scale": 3.0})
    ]
    batch = make_batch(3, size=base.batch_size)
    update_step(states[0], batch)  # compile
    with compile_counter as compiles:
        outs = [update_step(s, batch) for s in states]
    assert compiles.count == 0
    assert not np.allclose(outs[0][1]["target_mean"], outs[1][1]["target_mean"])


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    """critic_lr x tau (2 x 2 points) for seed 3, 300 steps, in one process."""
    workdir = str(tmp_path_factory.mktemp("sweep"))
    loop.train(small_config(seed=3, **SWEEP), workdir, quiet=True)
    return workdir


def test_each_sweep_run_matches_its_single_run(sweep_run, tmp_path):
    """The run critic_lr=3e-4, tau=0.02 trained alone gives the same state and eval returns."""
    point = dict(critic_lr=3e-4, tau=0.02)
    alone = str(tmp_path / "alone")
    single = small_config(seed=3, **point)
    loop.train(single, alone, quiet=True)
    run_dir = os.path.join(sweep_run, "critic_lr=0.0003,tau=0.02,seed3")
    assert_trees_close(restore(run_dir, single)[1], restore(alone, single)[1])
    swept = [
        r
        for r in read_rows(sweep_run, "eval.csv")
        if r["critic_lr"] == "0.0003" and r["tau"] == "0.02"
    ]
    np.testing.assert_allclose(
        [float(r["return_mean"]) for r in swept],
        [float(r["return_mean"]) for r in read_rows(alone, "eval.csv")],
        rtol=1e-5,
    )


def test_sweep_runs_are_tagged_in_logs_checkpoints_and_plots(sweep_run, tmp_path):
    evals = read_rows(sweep_run, "eval.csv")
    assert list(evals[0])[:4] == ["step", "seed", "critic_lr", "tau"]
    last = evals[-4:]
    assert [(r["critic_lr"], r["tau"]) for r in last] == [
        ("0.001", "0.005"),
        ("0.001", "0.02"),
        ("0.0003", "0.005"),
        ("0.0003", "0.02"),
    ]
    assert len({r["return_mean"] for r in last}) == 4  # the values change the runs
    trains = read_rows(sweep_run, "train.csv")
    assert {(r["critic_lr"], r["tau"]) for r in trains} == {
        (r["critic_lr"], r["tau"]) for r in last
    }
    # Each run's checkpoint is a single run with scalar values: evaluate/load_policy use it as is.
    policy = load_policy(os.path.join(sweep_run, "critic_lr=0.001,tau=0.02,seed3"))
    assert policy(np.zeros(3, np.float32)).shape == (1,)
    groups = group_runs([sweep_run])
    assert sorted(groups) == sorted(
        f"Pendulum-v1 critic_lr={lr},tau={tau}"
        for lr in ("0.001", "0.0003")
        for tau in ("0.005", "0.02")
    )
    assert all(len(curves) == 1 for curves in groups.values())


def test_sweep_compiles_its_update_once(tmp_path):
    loop.vmap_seeds.cache_clear()
    config = small_config(total_steps=200, eval_interval=200, tau=[0.005, 0.01], gamma=[0.9, 0.99])
    loop.train(config, str(tmp_path), quiet=True)
    assert loop.vmap_seeds.cache_info().currsize == 1
    assert loop.vmap_seeds(update_steps, placement(4, config.batch_size))._cache_size() == 1


def test_sweep_from_the_command_line(tmp_path):
    workdir = str(tmp_path / "cli")
    result = run_cli(
        "train.py",
        "--config",
        "configs/pendulum.py",
        "--workdir",
        workdir,
        "--config.total_steps=120",
        "--config.learning_starts=100",
        "--config.eval_interval=120",
        "--config.eval_episodes=1",
        "--config.hidden_dims=(16,16)",
        "--config.batch_size=16",
        "--config.alpha_lr=[1e-4,1e-3]",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "seed 0, alpha_lr in [0.0001, 0.001] (2 runs)" in result.stdout
    assert sorted(os.listdir(workdir)).count("alpha_lr=0.001,seed0") == 1
    assert [r["alpha_lr"] for r in read_rows(workdir, "eval.csv")] == ["0.0001", "0.001"]
