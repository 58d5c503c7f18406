"""update_step: purity, determinism, compile count, vmap over seeds, and its documented update order."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sac_jax import (
    create_state,
    update_actor,
    update_critic,
    update_step,
    update_steps,
    update_target,
    update_temperature,
)
from tests.helpers import ACTION_DIM, OBS_DIM, make_batch


@pytest.fixture
def state(tiny_config):
    return create_state(tiny_config, OBS_DIM, ACTION_DIM)


def assert_trees_equal(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_update_step_is_pure_and_deterministic(state):
    batch = make_batch(0)
    before = jax.tree.map(np.array, state)
    new_a, metrics_a = update_step(state, batch)
    new_b, metrics_b = update_step(state, batch)
    assert_trees_equal(state, before)  # inputs untouched
    assert_trees_equal(new_a, new_b)  # same inputs (the key lives in the state) -> same outputs
    assert_trees_equal(metrics_a, metrics_b)
    assert int(new_a.step) == 1
    assert not np.array_equal(np.asarray(new_a.key), np.asarray(state.key))  # the key is consumed
    changed = jax.tree.map(
        lambda x, y: not np.array_equal(x, y), new_a.critic.params, state.critic.params
    )
    assert all(jax.tree.leaves(changed))


def test_donated_variant_matches(state):
    batch = make_batch(1)
    expected, _ = update_step(state, batch)
    copy = jax.tree.map(jnp.copy, state)
    got, _ = update_steps(copy, jax.tree.map(lambda x: x[None], batch))  # K = 1, donated
    assert_trees_equal(got, expected)


def test_update_step_compiles_once_per_run(state, compile_counter):
    state, _ = update_step(state, make_batch(0))
    with compile_counter as compiles:
        for i in range(1, 6):
            state, _ = update_step(state, make_batch(i))
    assert compiles.count == 0


def test_update_order_critic_actor_temperature_target(tiny_config):
    """update_step == critic on the old state, actor on the new critic, alpha from the actor's entropy,
    then Polyak from the updated critic; composed here by hand from the public pieces. Large rates
    and tau, and Adam moments with a history, make each other order land measurably elsewhere."""
    tiny_config.update(actor_lr=0.05, critic_lr=0.05, alpha_lr=0.05, tau=0.5)
    state = create_state(tiny_config, OBS_DIM, ACTION_DIM)
    for i in range(2):
        state, _ = update_step(state, make_batch(10 + i))
    batch = make_batch(3)
    key, critic_key, actor_key = jax.random.split(state.key, 3)

    def composed(actor_first=False, target_first=False):
        s = update_target(state) if target_first else state
        if actor_first:
            s, actor_info = update_actor(s, batch, actor_key)
            s, _ = update_critic(s, batch, critic_key)
        else:
            s, _ = update_critic(s, batch, critic_key)
            s, actor_info = update_actor(s, batch, actor_key)
        s, _ = update_temperature(s, actor_info["entropy"])
        s = s if target_first else update_target(s)
        return s.replace(key=key, step=s.step + 1)

    def close(a, b):
        return all(
            np.allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
            for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
        )

    got, _ = update_step(state, batch)
    assert close(got, composed())
    assert not close(got.actor, composed(actor_first=True).actor)
    assert not close(got.target_critic_params, composed(target_first=True).target_critic_params)


def test_vmap_over_seeds_matches_each_seed_alone(tiny_config):
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    states = jax.vmap(lambda k: create_state(tiny_config, OBS_DIM, ACTION_DIM, k))(keys)
    batches = jax.tree.map(lambda *xs: np.stack(xs), *[make_batch(i) for i in range(3)])
    new_states, metrics = jax.vmap(update_step)(states, batches)
    assert metrics["critic_loss"].shape == (3,)
    for i in range(3):
        alone, alone_metrics = update_step(
            create_state(tiny_config, OBS_DIM, ACTION_DIM, keys[i]), make_batch(i)
        )
        for x, y in zip(jax.tree.leaves(new_states), jax.tree.leaves(alone)):
            np.testing.assert_allclose(np.asarray(x)[i], np.asarray(y), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(
            metrics["critic_loss"][i], alone_metrics["critic_loss"], rtol=1e-4
        )


def test_fixed_alpha_stays_fixed(tiny_config):
    tiny_config.learn_alpha = False
    tiny_config.init_alpha = 0.2
    state = create_state(tiny_config, OBS_DIM, ACTION_DIM)
    for i in range(3):
        state, metrics = update_step(state, make_batch(i))
    np.testing.assert_allclose(metrics["alpha"], 0.2, rtol=1e-6)
    assert "alpha_loss" not in metrics


def test_learned_alpha_moves_toward_target_entropy(tiny_config):
    """With a target entropy far above what a fresh policy has, alpha must rise; far below, fall."""
    for target, direction in ((50.0, 1.0), (-50.0, -1.0)):
        tiny_config.target_entropy = target
        state = create_state(tiny_config, OBS_DIM, ACTION_DIM)
        new, _ = update_step(state, make_batch(0))
        assert direction * (float(new.alpha) - float(state.alpha)) > 0
