"""Acting: the policy's actions for exploration and evaluation, outside the update.

The agent acts in [-1, 1]; `sac_jax.envs.make_env` rescales to the env's bounds.
"""

from collections.abc import Callable

import gymnasium as gym
import jax
import numpy as np

from sac_jax.networks import deterministic_action
from sac_jax.normalization import RunningStats, normalize
from sac_jax.state import variables


@jax.jit
def select_action(
    actor, obs: jax.Array, key: jax.Array | None = None, obs_stats: RunningStats | None = None
) -> jax.Array:
    """Action in [-1, 1] for `obs` (one observation or a batch) from the actor `TrainState`.

    With a PRNG key: a sample a ~ pi(.|s) (exploration). With key=None: the deterministic
    evaluation action tanh(mean). Pass `obs_stats=state.obs_stats` for a state trained with
    normalize_obs, so the actor sees observations as it did in training. An actor with
    batch_renorm normalizes with its running statistics (evaluation mode). Only the actor (and
    the statistics) travel to the device call, not the whole state.
    """
    if obs_stats is not None:
        obs = normalize(obs_stats, obs)
    pi = actor.apply_fn(variables(actor), obs)
    if key is None:
        return deterministic_action(pi)
    return pi.sample(seed=key)


@jax.jit
def explore(actors, obs: jax.Array, keys: jax.Array, step: int, obs_stats: RunningStats | None):
    """Sampled actions of every trial (leading axis) at env step `step`: trial i draws with
    `fold_in(keys[i], step)`, so its stream does not depend on the other trials."""
    return jax.vmap(
        lambda actor, o, key, stats: select_action(actor, o, jax.random.fold_in(key, step), stats)
    )(actors, obs, keys, obs_stats)


def episode_returns(
    policy: Callable[[np.ndarray], np.ndarray],
    env: gym.Env,
    episodes: int,
    seed: int,
    frames: list | None = None,
) -> np.ndarray:
    """Undiscounted returns of `episodes` episodes of `policy` (observation -> action), reset
    seeds seed .. seed + episodes - 1: one protocol for every agent evaluated here, ours or a
    peer library's.

    With a `frames` list (and an env made with render_mode="rgb_array"), the first episode's
    rendered frames are appended to it.
    """
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        record = frames is not None and i == 0
        if record:
            frames.append(env.render())
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            returns[i] += reward
            done = terminated or truncated
            if record:
                frames.append(env.render())
    return returns


def evaluate(
    actor, env: gym.Env, episodes: int, seed: int, obs_stats=None, frames: list | None = None
) -> np.ndarray:
    """Undiscounted returns of `episodes` deterministic (tanh-mean) episodes of the actor.

    `obs_stats`: the state's observation statistics when it was trained with normalize_obs.
    `frames`: as in `episode_returns`.
    """

    def policy(obs):
        return np.asarray(select_action(actor, obs.astype(np.float32), None, obs_stats))

    return episode_returns(policy, env, episodes, seed, frames)
