"""Probe environments: tiny MDPs whose Q values are known exactly; the learned critic must find them."""

import jax
import numpy as np

from sac_jax import Batch, create_state, update_steps


def train_on(batch_fn, config, updates=600):
    state = create_state(config, obs_dim=1, action_dim=1)
    rng = np.random.default_rng(0)
    batches = [batch_fn(rng, config.batch_size) for _ in range(updates)]
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *batches)
    state, _ = update_steps(state, stacked)
    return state


def q_values(state, obs, action):
    return np.asarray(state.critic.apply_fn({"params": state.critic.params}, obs, action))


def probe_config(config):
    config.learn_alpha = False
    config.init_alpha = 1e-4  # the entropy term of the backup is then negligible
    config.critic_lr = 1e-3
    config.actor_lr = 1e-3
    config.hidden_dims = (32, 32)
    return config


def test_one_step_constant_reward(tiny_config):
    """Every episode is one step with reward 1 and terminates: Q(s, a) = 1 everywhere."""

    def batch(rng, n):
        obs = np.zeros((n, 1), np.float32)
        return Batch(
            obs,
            rng.uniform(-1, 1, (n, 1)).astype(np.float32),
            np.ones(n, np.float32),
            obs,
            np.ones(n, np.float32),
        )

    state = train_on(batch, probe_config(tiny_config))
    q = q_values(
        state, np.zeros((5, 1), np.float32), np.linspace(-1, 1, 5, dtype=np.float32)[:, None]
    )
    np.testing.assert_allclose(q, 1.0, atol=0.1)


def test_two_step_discounting(tiny_config):
    """s=0 -> reward 0, next s=1 (not terminal); s=1 -> reward 1, terminal. Q(1) = 1, Q(0) = gamma.

    gamma = 0.5, so that a missing discount (Q(0) = 1) or a doubled one (0.25) is far outside
    the tolerance.
    """

    def batch(rng, n):
        first = rng.uniform(size=n) < 0.5
        obs = np.where(first, 0.0, 1.0).astype(np.float32)[:, None]
        next_obs = np.ones((n, 1), np.float32)
        reward = np.where(first, 0.0, 1.0).astype(np.float32)
        terminated = np.where(first, 0.0, 1.0).astype(np.float32)
        return Batch(
            obs, rng.uniform(-1, 1, (n, 1)).astype(np.float32), reward, next_obs, terminated
        )

    config = probe_config(tiny_config)
    config.gamma = 0.5
    state = train_on(batch, config, updates=1500)
    action = np.zeros((1, 1), np.float32)
    np.testing.assert_allclose(q_values(state, np.ones((1, 1), np.float32), action), 1.0, atol=0.1)
    np.testing.assert_allclose(
        q_values(state, np.zeros((1, 1), np.float32), action), config.gamma, atol=0.1
    )


def test_action_dependent_reward_policy_learns_best_action(tiny_config):
    """One step, reward = -(a - 0.5)^2: the actor's deterministic action must approach 0.5."""

    def batch(rng, n):
        obs = np.zeros((n, 1), np.float32)
        action = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
        reward = -np.square(action[:, 0] - 0.5)
        return Batch(obs, action, reward, obs, np.ones(n, np.float32))

    state = train_on(batch, probe_config(tiny_config), updates=1500)
    from sac_jax import select_action

    best = float(select_action(state.actor, np.zeros((1,), np.float32))[0])
    assert abs(best - 0.5) < 0.1, best
