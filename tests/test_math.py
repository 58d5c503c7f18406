"""SAC's math against independent computations: float64 NumPy, hand-worked cases, finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.training.train_state import TrainState

from sac_jax import Batch, create_state, losses, update_actor
from sac_jax.networks import squashed_gaussian
from sac_jax.normalization import RunningStats
from sac_jax.state import SACHParams, SACScalars, SACState
from tests.helpers import assert_trees_identical


def reference_log_prob(u, mean, std):
    """log pi(tanh(u)) in float64: Gaussian log-density of u minus log|d tanh/du| = log(1 - tanh(u)^2),
    the latter written as -2 * log(cosh(u)) = -2 * (|u| + log1p(exp(-2|u|)) - log 2)."""
    u, mean, std = (np.asarray(x, np.float64) for x in (u, mean, std))
    gauss = -0.5 * ((u - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    log_det = -2.0 * (np.abs(u) + np.log1p(np.exp(-2.0 * np.abs(u))) - np.log(2.0))
    return (gauss - log_det).sum(-1)


def test_tanh_gaussian_log_prob_matches_float64_reference():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(64, 3)).astype(np.float32)
    log_std = rng.uniform(-2, 0.5, size=(64, 3)).astype(np.float32)
    u = (mean + np.exp(log_std) * rng.normal(size=(64, 3))).astype(np.float32)
    pi = squashed_gaussian(jnp.asarray(mean), jnp.asarray(log_std))
    got = pi.log_prob(jnp.tanh(u))
    want = reference_log_prob(u, mean, np.exp(log_std))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_sampled_log_prob_is_stable_where_tanh_saturates():
    """Pre-tanh samples near +-10 give a = +-1.0 in float32; log(1 - a^2 + eps) would be badly off."""
    mean = jnp.array([[10.0, -9.0, 0.0]])
    log_std = jnp.full((1, 3), -1.0)
    pi = squashed_gaussian(mean, log_std)
    key = jax.random.PRNGKey(3)
    action, log_prob = pi.sample_and_log_prob(seed=key)
    u = pi.distribution.sample(seed=key)  # the same pre-tanh draw
    assert np.all(np.abs(np.asarray(action[0, :2])) == 1.0)
    np.testing.assert_allclose(log_prob, reference_log_prob(u, mean, np.exp(log_std)), rtol=1e-5)


class FixedPolicy:
    """A stand-in for pi(.|s') that always returns the same (a', log pi(a'|s'))."""

    def __init__(self, action, log_prob):
        self.action, self.log_prob = action, log_prob

    def sample_and_log_prob(self, seed):
        return self.action, self.log_prob


def hand_state(alpha=0.5, gamma=0.9):
    """Critics that return their params' table of Q values; the target table differs from the online one."""
    online_q = jnp.array([[9.0, 9.0, 9.0], [9.0, 9.0, 9.0]])
    target_q = jnp.array([[1.0, 4.0, -2.0], [3.0, 2.0, 5.0]])
    q_table = lambda variables, obs, action: variables["params"]["q"]  # noqa: E731
    policy = FixedPolicy(jnp.zeros((3, 1)), jnp.array([-1.0, 2.0, 0.5]))
    tx = optax.sgd(0.0)
    return SACState(
        actor=TrainState.create(apply_fn=lambda v, obs: policy, params={}, tx=tx),
        critic=TrainState.create(apply_fn=q_table, params={"q": online_q}, tx=tx),
        target_critic_params={"q": target_q},
        temperature=TrainState.create(apply_fn=None, params={"log_alpha": jnp.log(alpha)}, tx=tx),
        obs_stats=RunningStats.create(2),
        key=jax.random.PRNGKey(0),
        step=jnp.zeros((), jnp.int32),
        scalars=SACScalars(
            gamma=jnp.float32(gamma),
            tau=jnp.float32(0.005),
            target_entropy=jnp.float32(-1.0),
            reward_scale=jnp.float32(1.0),
        ),
        hparams=SACHParams(),
    )


def test_critic_target_hand_computed():
    """Rows: ordinary, terminated, and a third non-terminal row. The batch carries only
    `terminated`, so a truncated transition is a non-terminal row here; that the buffer stores a
    truncation as non-terminal is tested in test_replay.py."""
    state = hand_state(alpha=0.5, gamma=0.9)
    batch = Batch(
        obs=jnp.zeros((3, 2)),
        action=jnp.zeros((3, 1)),
        reward=jnp.array([1.0, 2.0, -1.0]),
        next_obs=jnp.zeros((3, 2)),
        terminated=jnp.array([0.0, 1.0, 0.0]),
    )
    y = losses.critic_target(state, batch, jax.random.PRNGKey(0))
    # min target Q = [1, 2, -2]; minus alpha * log_prob = [+0.5, -1.0, -0.25]
    # row 0: 1 + 0.9 * (1 + 0.5) = 2.35; row 1: terminated -> 2; row 2: -1 + 0.9 * (-2 - 0.25) = -3.025
    np.testing.assert_allclose(y, [2.35, 2.0, -3.025], rtol=1e-6)


def test_critic_loss_hand_computed():
    state = hand_state()
    batch = Batch(*(jnp.zeros((3, 1)),) * 2, jnp.zeros(3), jnp.zeros((3, 1)), jnp.zeros(3))
    target = jnp.array([8.0, 9.0, 11.0])
    loss, _ = losses.critic_loss(state.critic.params, state, batch, target)
    # each critic: 0.5 * mean([1, 0, 4]) = 5/6; two critics
    np.testing.assert_allclose(loss, 2 * 5.0 / 6.0, rtol=1e-6)


def test_polyak_update():
    params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
    target = {"w": jnp.array([0.0, 0.0]), "b": jnp.array(1.0)}
    new = losses.polyak_update(params, target, tau=0.1)
    np.testing.assert_allclose(new["w"], [0.1, 0.2], rtol=1e-6)
    np.testing.assert_allclose(new["b"], 0.1 * 3.0 + 0.9 * 1.0, rtol=1e-6)


@pytest.fixture(scope="module")
def small_state_and_batch():
    from sac_jax.config import default_config

    c = default_config()
    c.hidden_dims = (16, 16)
    c.init_alpha = 0.3
    state = create_state(c, obs_dim=4, action_dim=2, key=jax.random.PRNGKey(1))
    rng = np.random.default_rng(0)
    batch = Batch(
        obs=rng.normal(size=(8, 4)).astype(np.float32),
        action=rng.uniform(-1, 1, size=(8, 2)).astype(np.float32),
        reward=rng.normal(size=8).astype(np.float32),
        next_obs=rng.normal(size=(8, 4)).astype(np.float32),
        terminated=np.array([0, 1, 0, 0, 0, 0, 1, 0], np.float32),
    )
    return state, batch


def test_critic_is_an_mlp_on_the_concatenation(small_state_and_batch):
    """Q_i(s, a) = W3 relu(W2 relu(W1 [s, a] + b1) + b2) + b3 in float64 NumPy, W1 one kernel over
    [s, a] (rows: s then a) as nn.Dense on the concatenation would hold and initialize it."""
    state, batch = small_state_and_batch
    params = state.critic.params["VmapCritic_0"]
    q = state.critic.apply_fn({"params": state.critic.params}, batch.obs, batch.action)
    dense = [params["MLP_0"]["Dense_0"], params["MLP_0"]["Dense_1"], params["Dense_0"]]
    assert dense[0]["kernel"].shape == (2, 4 + 2, 16)  # (critics, obs + action, hidden)
    for i in range(2):
        x = np.concatenate([batch.obs, batch.action], axis=-1).astype(np.float64)
        for layer, p in enumerate(dense):
            x = x @ np.asarray(p["kernel"][i], np.float64) + np.asarray(p["bias"][i], np.float64)
            x = np.maximum(x, 0.0) if layer < 2 else x[..., 0]
        np.testing.assert_allclose(q[i], x, rtol=1e-5, atol=1e-5)
    kernel = dense[0]["kernel"]  # lecun_normal with the concatenation's fan-in (6)
    assert (
        0.85 < float(kernel.std()) * np.sqrt(6) < 1.15
        and float(jnp.abs(dense[0]["bias"]).max()) == 0
    )


def test_actor_loss_value_and_finite_difference_gradient(small_state_and_batch):
    state, batch = small_state_and_batch
    key = jax.random.PRNGKey(7)
    loss, info = losses.actor_loss(state.actor.params, state, batch, key)

    # Value: recompute alpha * log pi(a|s) - min_i Q_i(s, a) from the networks directly.
    pi = state.actor.apply_fn({"params": state.actor.params}, batch.obs)
    a, log_prob = pi.sample_and_log_prob(seed=key)
    q = state.critic.apply_fn({"params": state.critic.params}, batch.obs, a)
    np.testing.assert_allclose(loss, np.mean(0.3 * log_prob - np.min(q, axis=0)), rtol=1e-5)
    np.testing.assert_allclose(info["entropy"], -np.mean(log_prob), rtol=1e-5)

    # Gradient: central finite difference along a random direction (same key -> same noise).
    grad = jax.grad(lambda p: losses.actor_loss(p, state, batch, key)[0])(state.actor.params)
    direction = jax.tree.map(lambda x: jax.random.normal(jax.random.PRNGKey(2), x.shape), grad)
    eps = 1e-3
    shifted = lambda s: jax.tree.map(lambda p, d: p + s * eps * d, state.actor.params, direction)  # noqa: E731
    fd = (
        losses.actor_loss(shifted(1), state, batch, key)[0]
        - losses.actor_loss(shifted(-1), state, batch, key)[0]
    ) / (2 * eps)
    analytic = sum(
        jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grad), jax.tree.leaves(direction))
    )
    np.testing.assert_allclose(fd, analytic, rtol=2e-2)


def test_the_actor_step_moves_only_the_actor(small_state_and_batch):
    """J_pi depends on the critic but not on alpha's parameter, and update_actor changes the actor
    alone: the critic, its targets and the temperature are left as they were."""
    state, batch = small_state_and_batch
    key = jax.random.PRNGKey(0)

    def loss_of(critic_params, temperature_params):
        s = state.replace(
            critic=state.critic.replace(params=critic_params),
            temperature=state.temperature.replace(params=temperature_params),
        )
        return losses.actor_loss(s.actor.params, s, batch, key)[0]

    g_critic, g_temperature = jax.grad(loss_of, argnums=(0, 1))(
        state.critic.params, state.temperature.params
    )
    assert float(jnp.abs(g_temperature["log_alpha"])) == 0.0
    assert any(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(g_critic))
    stepped, _ = update_actor(state, batch, key)
    for name in ("critic", "target_critic_params", "temperature"):
        assert_trees_identical(getattr(stepped, name), getattr(state, name))
    assert not np.allclose(
        jax.tree.leaves(stepped.actor.params)[0], jax.tree.leaves(state.actor.params)[0]
    )


def test_temperature_loss_gradient_and_isolation_from_actor(small_state_and_batch):
    state, batch = small_state_and_batch
    key = jax.random.PRNGKey(0)
    target_entropy = -2.0

    # d/d(log_alpha) = H - target_entropy.
    grad = jax.grad(lambda p: losses.temperature_loss(p, jnp.asarray(1.5), target_entropy)[0])(
        state.temperature.params
    )
    np.testing.assert_allclose(grad["log_alpha"], 1.5 + 2.0, rtol=1e-6)

    # Composed with the actor's entropy estimate, no gradient reaches actor params.
    def alpha_loss_of_actor(actor_params):
        entropy = losses.actor_loss(actor_params, state, batch, key)[1]["entropy"]
        return losses.temperature_loss(state.temperature.params, entropy, target_entropy)[0]

    g = jax.grad(alpha_loss_of_actor)(state.actor.params)
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(g))


def test_weight_decay_is_decoupled_adamw():
    """With zero gradients Adam's step is 0, so AdamW's step is exactly -lr * wd * params, on the
    actor and critics; the temperature is not decayed."""
    from sac_jax.config import default_config

    config = default_config()
    config.update(hidden_dims=(8,), weight_decay=0.1, critic_lr=1e-2, alpha_lr=1e-2, init_alpha=0.5)
    state = create_state(config, obs_dim=3, action_dim=1)
    zeros = lambda tree: jax.tree.map(jnp.zeros_like, tree)  # noqa: E731
    for network, lr in ((state.critic, config.critic_lr), (state.actor, config.actor_lr)):
        stepped = network.apply_gradients(grads=zeros(network.params))
        for new, old in zip(jax.tree.leaves(stepped.params), jax.tree.leaves(network.params)):
            np.testing.assert_allclose(new, (1 - lr * 0.1) * np.asarray(old), rtol=1e-6)
    temperature = state.temperature.apply_gradients(grads=zeros(state.temperature.params))
    assert float(temperature.params["log_alpha"]) == float(state.temperature.params["log_alpha"])
