"""Critic dropout (critic_dropout, DroQ): off at rate 0, masks from the key it is given (one per
critic), on in the target, the critic loss and the actor loss, and drawn from the state's key."""

import jax
import jax.numpy as jnp
import numpy as np

from sac_jax import (
    actor_loss,
    create_state,
    critic_loss,
    critic_target,
    critic_values,
    default_config,
    update_step,
    validate,
)
from sac_jax.losses import split_dropout_key
from tests.helpers import ACTION_DIM, OBS_DIM, assert_trees_identical, make_batch

B = 16


def droq_config(rate=0.1, **overrides):
    c = default_config()
    c.update(hidden_dims=(32, 32), critic_layer_norm=True, critic_dropout=rate, **overrides)
    validate(c)
    return c


def batch_of(seed=0):
    return make_batch(seed, size=B)


def q(state, key=None, params=None):
    batch = batch_of()
    params = state.critic.params if params is None else params
    return np.asarray(critic_values(state, params, batch.obs, batch.action, key))


def test_rate_zero_is_the_plain_critic():
    """Rate 0 builds no dropout layer: a dropout key changes nothing, and the parameters are those
    of a critic with dropout (dropout has none), so both compute the same Q without a key."""
    plain = create_state(droq_config(rate=0.0), OBS_DIM, ACTION_DIM)
    dropped = create_state(droq_config(rate=0.1), OBS_DIM, ACTION_DIM)
    np.testing.assert_array_equal(q(plain, jax.random.PRNGKey(1)), q(plain))
    assert_trees_identical(plain.critic.params, dropped.critic.params)
    np.testing.assert_array_equal(q(dropped), q(plain))


def test_masks_come_from_the_key():
    state = create_state(droq_config(), OBS_DIM, ACTION_DIM)
    k1, k2 = jax.random.PRNGKey(1), jax.random.PRNGKey(2)
    np.testing.assert_array_equal(q(state, k1), q(state, k1))
    assert not np.allclose(q(state, k1), q(state, k2))
    assert not np.allclose(q(state, k1), q(state))


def test_each_critic_draws_its_own_masks():
    state = create_state(droq_config(), OBS_DIM, ACTION_DIM)
    twins = jax.tree.map(lambda p: jnp.stack([p[0], p[0]]), state.critic.params)
    same = q(state, None, twins)
    np.testing.assert_array_equal(same[0], same[1])
    masked = q(state, jax.random.PRNGKey(1), twins)
    assert not np.allclose(masked[0], masked[1])


def test_the_target_critic_runs_with_dropout():
    """The target: a' from the key left after the dropout key is split off, target Q with masks
    from the dropout key, min over critics, the soft value (alpha 1 at init)."""
    state = create_state(droq_config(), OBS_DIM, ACTION_DIM)
    batch, key = batch_of(), jax.random.PRNGKey(5)
    sample_key, dropout_key = jax.random.split(key)
    pi = state.actor.apply_fn({"params": state.actor.params}, batch.next_obs)
    a, log_prob = pi.sample_and_log_prob(seed=sample_key)

    def expected(dropout_key):
        z = critic_values(state, state.target_critic_params, batch.next_obs, a, dropout_key)
        v = np.asarray(z, np.float64).min(0) - np.asarray(log_prob, np.float64)
        return batch.reward + 0.99 * (1.0 - batch.terminated) * v

    y = critic_target(state, batch, key)
    np.testing.assert_allclose(y, expected(dropout_key), rtol=1e-5, atol=1e-5)
    assert not np.allclose(y, expected(None), rtol=1e-5, atol=1e-5)


def test_updates_draw_masks_from_the_state_key():
    """The update's critic loss is J_Q with the masks of the dropout key that `update_critic`
    splits off the state's key; other masks give another loss."""
    state = create_state(droq_config(), OBS_DIM, ACTION_DIM)
    batch = batch_of(1)
    _, critic_key, _ = jax.random.split(state.key, 3)
    target_key, dropout_key = split_dropout_key(state, critic_key)
    target = critic_target(state, batch, target_key)

    def loss_with(key):
        return float(critic_loss(state.critic.params, state, batch, target, key=key)[0])

    _, metrics = update_step(state, batch)
    np.testing.assert_allclose(float(metrics["critic_loss"]), loss_with(dropout_key), rtol=1e-5)
    assert not np.isclose(float(metrics["critic_loss"]), loss_with(jax.random.PRNGKey(9)))


def test_the_critic_loss_and_actor_loss_use_dropout():
    """With the actor's and target's sampling fixed by the key, only the dropout masks of the
    online critic (critic loss) and of the actor's Q differ between rate 0 and rate > 0."""
    state = create_state(droq_config(), OBS_DIM, ACTION_DIM)
    batch, key = batch_of(2), jax.random.PRNGKey(3)
    target = critic_target(state, batch, key)
    with_masks, _ = critic_loss(state.critic.params, state, batch, target, key)
    without, _ = critic_loss(state.critic.params, state, batch, target)
    z = critic_values(state, state.critic.params, batch.obs, batch.action, key)
    np.testing.assert_allclose(with_masks, 0.5 * np.mean((z - target) ** 2, -1).sum(), rtol=1e-5)
    assert not np.isclose(with_masks, without)
    # The actor: its own sample key and dropout key are split from its key.
    sample_key, dropout_key = jax.random.split(key)
    loss, _ = actor_loss(state.actor.params, state, batch, key)
    pi = state.actor.apply_fn({"params": state.actor.params}, batch.obs)
    a, log_prob = pi.sample_and_log_prob(seed=sample_key)
    q_pi = np.asarray(critic_values(state, state.critic.params, batch.obs, a, dropout_key)).min(0)
    np.testing.assert_allclose(loss, np.mean(np.asarray(log_prob) - q_pi), rtol=1e-5, atol=1e-6)
