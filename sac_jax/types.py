"""The batch type that `update_step` consumes."""

from typing import NamedTuple

import jax


class Batch(NamedTuple):
    """A batch of transitions (s, a, r, s', terminated); leading axis B (or (U, B) when fused).

    obs, next_obs: float32 (B, obs_dim), raw environment observations.
    action: float32 (B, action_dim), the agent's action in [-1, 1] (before rescaling to the env).
    reward: float32 (B,).
    terminated: float32 (B,), 1.0 where s' is terminal (the MDP ended), 0.0 otherwise. A time-limit
        truncation is NOT terminal: its s' is the real last observation and is bootstrapped from.
    NumPy or JAX arrays both work; a NamedTuple is a pytree, so jit and vmap accept it as is.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array


class NStepBatch(NamedTuple):
    """A Batch of n-step transitions (config.n_step > 1): `reward` is the discounted sum of the m
    <= n rewards up to the episode's end, `next_obs` the observation m steps on, and `discount`
    (float32 (B,)) is gamma^m, which the backup uses in place of gamma."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    discount: jax.Array
