"""TQC (backup=tqc) against float64 NumPy: the truncated-mixture target, the quantile Huber loss
and its gradient, the actor's mean over all atoms, and the bias estimate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sac_jax import (
    actor_loss,
    bias,
    create_state,
    critic_loss,
    critic_target,
    default_config,
    quantile_huber_loss,
    truncated_mixture,
    validate,
)
from sac_jax.envs import make_env
from sac_jax.types import NStepBatch
from tests.helpers import ACTION_DIM, OBS_DIM, make_batch

B = 8
N, M, D = 3, 5, 2  # critics, quantiles per critic, atoms dropped per critic


def tqc_config(**overrides):
    c = default_config()
    c.update(hidden_dims=(16, 16), backup="tqc", num_critics=N, num_quantiles=M)
    c.update(top_quantiles_to_drop=D, init_alpha=0.3, **overrides)
    validate(c)
    return c


def batch_of(seed=0):
    """A B-row batch with terminations at rows 1 and 4."""
    return make_batch(seed, size=B)._replace(
        terminated=np.array([0, 1, 0, 0, 1, 0, 0, 0], np.float32)
    )


def reference_atoms(next_z, d):
    """Per state: all N * M atoms in one list, sorted, the d * N largest left out; (kN, B)."""
    next_z = np.asarray(next_z, np.float64)
    n, b, _ = next_z.shape
    rows = [sorted(next_z[:, j, :].ravel())[: next_z[:, j, :].size - d * n] for j in range(b)]
    return np.array(rows).T


def reference_quantile_huber(z, atoms):
    """sum_n mean_b 1/(M K) sum_m sum_i |tau_m - 1{u < 0}| H(u), u = y_i - z_n^m, by loops."""
    z, atoms = np.asarray(z, np.float64), np.asarray(atoms, np.float64)
    n, b, m = z.shape
    total = 0.0
    for critic in range(n):
        for j in range(b):
            for q in range(m):
                tau = (2 * q + 1) / (2 * m)
                for y in atoms[:, j]:
                    u = y - z[critic, j, q]
                    huber = 0.5 * u * u if abs(u) <= 1 else abs(u) - 0.5
                    total += abs(tau - (u < 0)) * huber / (b * m * atoms.shape[0])
    return total


def test_truncated_mixture_hand_case():
    # One state, two critics of three quantiles: the pool 0..5; d = 1 drops the two largest.
    next_z = jnp.array([[[1.0, 5.0, 3.0]], [[2.0, 0.0, 4.0]]])
    np.testing.assert_array_equal(truncated_mixture(next_z, 1), [[0.0], [1.0], [2.0], [3.0]])
    np.testing.assert_array_equal(truncated_mixture(next_z, 0)[:, 0], np.arange(6.0))


def test_quantile_huber_loss_hand_case():
    # M = 2 (tau 1/4, 3/4), z = 0, atoms 2 and -0.5: rho = 1/4 * 1.5, 3/4 * 0.125, 3/4 * 1.5,
    # 1/4 * 0.125, averaged over 2 quantiles x 2 atoms.
    loss = quantile_huber_loss(jnp.zeros((1, 1, 2)), jnp.array([[2.0], [-0.5]]))
    np.testing.assert_allclose(loss, (0.375 + 0.09375 + 1.125 + 0.03125) / 4, rtol=1e-6)


def test_quantile_huber_loss_and_gradient_match_float64():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, size=(N, B, M)).astype(np.float32)
    atoms = rng.normal(0, 1.5, size=(N * (M - D), B)).astype(np.float32)
    np.testing.assert_allclose(
        quantile_huber_loss(jnp.asarray(z), jnp.asarray(atoms)),
        reference_quantile_huber(z, atoms),
        rtol=1e-5,
    )
    # d rho / dz = -|tau - 1{u < 0}| clip(u, -1, 1), averaged as the loss is.
    u = atoms.T[None, :, None, :].astype(np.float64) - z[..., None]
    tau = (np.arange(M) + 0.5) / M
    want = -(np.abs(tau[:, None] - (u < 0)) * np.clip(u, -1, 1)).mean(-1) / (B * M)
    grad = jax.grad(quantile_huber_loss)(jnp.asarray(z), jnp.asarray(atoms))
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-7)


def next_sample(state, batch, key):
    pi = state.actor.apply_fn({"params": state.actor.params}, batch.next_obs)
    a, log_prob = pi.sample_and_log_prob(seed=key)
    z = state.critic.apply_fn({"params": state.target_critic_params}, batch.next_obs, a)
    return np.asarray(z, np.float64), np.asarray(log_prob, np.float64)


@pytest.mark.parametrize(
    "overrides, n_step_discount",
    [(dict(), None), (dict(reward_scale=5.0, backup_entropy=False), None), (dict(), 0.25)],
    ids=["plain", "scaled-no-entropy", "n-step"],
)
def test_tqc_target_matches_float64(overrides, n_step_discount):
    state = create_state(tqc_config(**overrides), OBS_DIM, ACTION_DIM)
    batch, key = batch_of(), jax.random.PRNGKey(3)
    z, log_prob = next_sample(state, batch, key)
    assert z.shape == (N, B, M)
    discount = 0.99
    if n_step_discount is not None:
        batch = NStepBatch(*batch, discount=np.full(B, n_step_discount, np.float32))
        discount = n_step_discount
    alpha = 0.3 if overrides.get("backup_entropy", True) else 0.0
    scale = overrides.get("reward_scale", 1.0)
    r, d = np.float64(batch.reward), np.float64(batch.terminated)
    want = scale * r + discount * (1 - d) * (reference_atoms(z, D) - alpha * log_prob)
    y = critic_target(state, batch, key)
    assert y.shape == (N * (M - D), B)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_tqc_critic_loss_on_the_network_matches_float64():
    state = create_state(tqc_config(), OBS_DIM, ACTION_DIM)
    batch = batch_of(1)
    target = critic_target(state, batch, jax.random.PRNGKey(0))
    loss, info = critic_loss(state.critic.params, state, batch, target)
    z = state.critic.apply_fn({"params": state.critic.params}, batch.obs, batch.action)
    np.testing.assert_allclose(loss, reference_quantile_huber(z, target), rtol=1e-5)
    np.testing.assert_allclose(info["q_mean"], np.mean(np.asarray(z, np.float64)), rtol=1e-5)


def with_head(state, kernel=None, bias=None):
    """The state with its critics' output layer (kernel (N, H, M), bias (N, M)) replaced."""
    params = jax.tree.map(lambda x: x, state.critic.params)
    head = params["VmapCritic_0"]["Dense_0"]
    assert head["kernel"].shape == (N, 16, M)
    head["kernel"] = head["kernel"] if kernel is None else jnp.asarray(kernel)
    head["bias"] = head["bias"] if bias is None else jnp.asarray(bias)
    return state.replace(critic=state.critic.replace(params=params))


QUANTILES = np.random.default_rng(0).normal(size=(N, M)).astype(np.float32)


def test_tqc_actor_maximizes_the_mean_of_all_atoms():
    state = with_head(create_state(tqc_config(), OBS_DIM, ACTION_DIM), bias=QUANTILES)
    batch, key = batch_of(2), jax.random.PRNGKey(7)
    loss, _ = actor_loss(state.actor.params, state, batch, key)
    pi = state.actor.apply_fn({"params": state.actor.params}, batch.obs)
    a, log_prob = pi.sample_and_log_prob(seed=key)
    z = np.asarray(state.critic.apply_fn({"params": state.critic.params}, batch.obs, a), np.float64)
    want = np.mean(0.3 * np.asarray(log_prob, np.float64) - z.mean(axis=(0, 2)))
    np.testing.assert_allclose(loss, want, rtol=1e-5)


def test_bias_estimate_is_the_truncated_mixture_mean():
    """Critics whose output layer ignores its input (kernel 0) and holds fixed quantiles in its
    bias: every Q estimate is the mean of the kept atoms of that fixed pool."""
    config = tqc_config(gamma=0.9, bias_episodes=1)
    state = with_head(create_state(config, OBS_DIM, 1), np.zeros((N, 16, M)), QUANTILES)
    got = bias.measure_state(state, make_env("Pendulum-v1", 0), config, seed=0)
    kept = np.sort(QUANTILES.astype(np.float64).ravel())[: N * (M - D)]
    np.testing.assert_allclose(got["q_estimate"], kept.mean(), rtol=1e-5)


def test_validation_keeps_an_atom_per_critic():
    c = default_config()
    c.update(backup="tqc", num_quantiles=3, top_quantiles_to_drop=3)
    with pytest.raises(ValueError, match=r"config\.top_quantiles_to_drop=3"):
        validate(c)
    c.backup = "min"  # the field is read only by backup=tqc
    validate(c)
