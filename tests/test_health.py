"""A run that goes bad stops with a clear error and keeps its last good checkpoint; a diverging
critic is warned about; a save that fails stops the run and leaves the earlier checkpoints."""

import contextlib
import errno
import os
import warnings

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from sac_jax import load_policy, loop, make_update_steps, sac_step
from sac_jax.checkpointing import Checkpointer, CheckpointError
from sac_jax.health import EnvAndQChecks, NonFiniteError, QRangeWarning, all_finite
from tests.helpers import restore, run_cli, small_config

NAN_AFTER = 1_200


class NanRewardPendulum(gym.Wrapper):
    """Pendulum whose reward turns NaN after NAN_AFTER steps (counted over its episodes)."""

    def __init__(self, render_mode=None):
        super().__init__(gym.make("Pendulum-v1", render_mode=render_mode))
        self.steps = 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        return obs, reward if self.steps <= NAN_AFTER else np.nan, terminated, truncated, info


gym.register("SacJaxTest/NanRewardPendulum-v0", entry_point=NanRewardPendulum)


class NanResetPendulum(gym.Wrapper):
    """Pendulum whose resets from the `nan_from`-th on observe NaN (the second one comes after
    its first 200-step episode)."""

    def __init__(self, render_mode=None, nan_from=2):
        super().__init__(gym.make("Pendulum-v1", render_mode=render_mode))
        self.resets, self.nan_from = 0, nan_from

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.resets += 1
        return np.where(self.resets >= self.nan_from, np.nan, obs).astype(obs.dtype), info


gym.register("SacJaxTest/NanResetPendulum-v0", entry_point=NanResetPendulum)


def assert_finite_checkpoint(workdir, config, step):
    assert Checkpointer(workdir).latest_step() == step
    _, state, _, _ = restore(workdir, config)
    assert bool(all_finite(state))
    policy = load_policy(workdir)
    assert np.all(np.isfinite(policy(np.ones((4, 3), np.float32))))


def test_a_non_finite_reward_stops_the_run_and_the_last_checkpoint_is_finite(tmp_path):
    config = small_config(
        env_id="SacJaxTest/NanRewardPendulum-v0", total_steps=2_000, checkpoint_interval=500
    )
    workdir = str(tmp_path)
    with pytest.raises(
        NonFiniteError,
        match=f"the env's reward at step {NAN_AFTER + 1} is not finite \\(seed0: nan\\)",
    ):
        loop.train(config, workdir, quiet=True)
    assert_finite_checkpoint(workdir, config, 1_000)


def poisoned_step(state, batch):
    """SAC, except that from update 150 on the critic's parameters turn NaN."""
    state, metrics = sac_step(state, batch)
    poison = jnp.where(state.step > 150, jnp.nan, 0.0)
    critic = state.critic.replace(params=jax.tree.map(lambda p: p + poison, state.critic.params))
    return state.replace(critic=critic), metrics


def test_non_finite_parameters_are_caught_by_the_next_check_without_saving_them(tmp_path):
    """Updates start after step 100, so update 151 (env step 251) poisons the critic and update
    152 the actor through it; the first NaN action, at step 253, triggers the check (the next
    scheduled one is at 300), and checkpoints are due every 150."""
    config = small_config(total_steps=600, seed=2, num_seeds=2)
    workdir = str(tmp_path)
    with pytest.raises(NonFiniteError) as error:
        loop.train(config, workdir, quiet=True, update_fn=make_update_steps(poisoned_step))
    message = str(error.value)
    assert "between steps 250 and 253" in message
    assert "seed2: actor, critic, target critic, temperature parameters; metrics [" in message
    assert "seed3:" in message and "critic_loss" in message
    assert "Nothing after step 250 was saved" in message and "step 150" in message
    for seed in (2, 3):
        run_dir = os.path.join(workdir, f"seed{seed}")
        assert_finite_checkpoint(run_dir, small_config(total_steps=600, seed=seed), 150)


def test_a_non_finite_reset_observation_stops_the_run_before_it_is_saved(tmp_path):
    config = small_config(env_id="SacJaxTest/NanResetPendulum-v0", checkpoint_interval=100)
    with pytest.raises(
        NonFiniteError,
        match=r"observation after its reset at step 200 is not finite \(seed0: \[0\] = nan",
    ):
        loop.train(config, str(tmp_path), quiet=True)
    assert_finite_checkpoint(str(tmp_path), config, 100)


def test_a_non_finite_first_observation_stops_the_run_before_its_first_step(tmp_path):
    config = small_config(env_id="SacJaxTest/NanResetPendulum-v0", env_kwargs={"nan_from": 1})
    with pytest.raises(
        NonFiniteError, match=r"the env's observation at step 1 is not finite \(seed0: \[0\] = nan"
    ):
        loop.train(config, str(tmp_path), quiet=True)
    with pytest.raises(CheckpointError, match="has no checkpoints"):
        Checkpointer(str(tmp_path))


def test_a_non_finite_action_from_finite_parameters_stops_the_run(tmp_path, monkeypatch):
    """The device's health flags stay true (the parameters are finite), yet the run must not step
    its envs with the NaN actions."""
    monkeypatch.setattr(loop, "explore", lambda *args: np.full((1, 1), np.nan, np.float32))
    with pytest.raises(
        NonFiniteError,
        match=r"the policy's action at step 101 is not finite \(seed0: nan\); the latest "
        r"checkpoint, step 100 in .* holds finite values",
    ):
        loop.train(small_config(checkpoint_interval=100), str(tmp_path), quiet=True)


def test_q_range_warning_fires_on_a_diverging_run_and_not_on_a_healthy_one(tmp_path):
    diverging = small_config(actor_lr=100.0, critic_lr=100.0, total_steps=600)
    with pytest.warns(QRangeWarning, match="mean Q = .* but no return can exceed"):
        with contextlib.suppress(NonFiniteError):
            loop.train(diverging, str(tmp_path / "diverging"), quiet=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", QRangeWarning)
        loop.train(small_config(), str(tmp_path / "healthy"), quiet=True)


def test_env_output_is_checked_as_the_buffer_stores_it():
    """The buffer stores float32: a finite float64 beyond its range would be stored as inf."""
    checks = EnvAndQChecks(["seed0"], [0.99], [1.0], 1, np.zeros((1, 4)))
    fine, following = np.ones((1, 2)), np.zeros((1, 2), np.float32)
    checks.env_step(5, np.array([3e38]), np.array([[0.0, -3e38]]), following)
    with pytest.raises(
        NonFiniteError, match=r"observation at step 5 is not finite \(seed0: \[1\] = inf"
    ):
        checks.env_step(5, np.array([1.0]), np.array([[0.0, 1e39]]), following)
    with pytest.raises(
        NonFiniteError, match=r"the env's reward at step 6 is not finite \(seed0: -inf"
    ):
        checks.env_step(6, np.array([-1e39]), fine, following)


def test_q_range_bound_by_hand():
    stored = np.array([[0.5, -1.0], [0.0, 0.0]])  # a resumed seed0's replay rewards; seed1 fresh
    checks = EnvAndQChecks(["seed0", "seed1"], [0.9, 0.9], [1.0, 2.0], 2, stored)
    np.testing.assert_array_equal(checks.max_abs_reward, [1.0, 0.0])
    checks.env_step(1, np.array([-3.0, 1.0]), np.zeros((2, 3)), np.zeros((2, 3)))
    checks.env_step(2, np.array([1.0, -2.0]), np.zeros((2, 3)), np.zeros((2, 3)))
    # limits: seed0 (1 * 3 + 0 * 2) / 0.1 = 30; seed1 (2 * 2 + 0.5 * 2) / 0.1 = 50; margin 2
    metrics = {"alpha": np.array([0.0, 0.5]), "entropy": np.array([1.0, -2.0])}
    with warnings.catch_warnings():
        warnings.simplefilter("error", QRangeWarning)
        checks.q_range(3, {**metrics, "q_mean": np.array([-59.0, 99.0])})
    with pytest.warns(QRangeWarning, match=r"step 4, seed1: mean Q = 101, .* exceed 50 in size"):
        checks.q_range(4, {**metrics, "q_mean": np.array([-59.0, 101.0])})
    with warnings.catch_warnings():  # once per run
        warnings.simplefilter("error", QRangeWarning)
        checks.q_range(5, {**metrics, "q_mean": np.array([-600.0, 1000.0])})
    with pytest.raises(
        NonFiniteError, match=r"observation at step 6 is not finite \(seed1: \[1\] = inf\)"
    ):
        checks.env_step(6, np.zeros(2), np.array([[0, 0, 0], [0, np.inf, 0]]), np.zeros((2, 3)))


def test_a_resumed_run_bounds_q_by_the_rewards_it_saw_before(tmp_path, monkeypatch):
    """After a resume the Q range starts from the largest |reward| in the restored replay buffer,
    not from zero (a sparse-reward task would otherwise warn of divergence falsely)."""
    config = small_config(total_steps=300)
    loop.train(config, str(tmp_path), quiet=True)
    seen = []

    class Recording(EnvAndQChecks):
        def __init__(self, *args):
            super().__init__(*args)
            seen.append(self.max_abs_reward.copy())

    monkeypatch.setattr(loop, "EnvAndQChecks", Recording)
    _, _, _, buffer = restore(str(tmp_path), config)
    loop.train(small_config(total_steps=450), str(tmp_path), quiet=True)
    assert seen[0][0] > 0.0
    np.testing.assert_allclose(seen[0], [np.abs(buffer.reward).max()])


def test_a_failed_save_stops_the_run_and_keeps_the_earlier_checkpoints(tmp_path, monkeypatch):
    save = ocp.CheckpointManager.save

    def full_disk_at_300(self, step, *args, **kwargs):
        if step == 300:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", full_disk_at_300)
    workdir = str(tmp_path)
    with pytest.raises(
        CheckpointError,
        match="could not save the checkpoint of step 300.*No space left.*steps \\[150\\]",
    ):
        loop.train(small_config(), workdir, quiet=True)
    monkeypatch.setattr(ocp.CheckpointManager, "save", save)
    assert_finite_checkpoint(workdir, small_config(), 150)


def test_a_workdir_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = run_cli(
        "train.py",
        "--config",
        "configs/pendulum.py",
        "--workdir",
        str(blocker / "run"),
        timeout=300,
    )
    assert result.returncode != 0
    assert "cannot be created or written" in result.stderr and "Traceback" not in result.stderr
