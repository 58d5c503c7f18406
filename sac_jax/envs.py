"""Gymnasium environment construction: checked, seeded, actions rescaled to [-1, 1]."""

import gymnasium as gym
import numpy as np

from sac_jax.config import ConfigError


def make_env(env_id: str, seed: int, render_mode: str | None = None) -> gym.Env:
    """`gym.make(env_id)` with a Box action space seen by the agent as [-1, 1]^action_dim.

    The env's own bounds (Humanoid: +-0.4) are restored by `RescaleAction`, so the agent and the
    replay buffer always work in [-1, 1].
    """
    try:
        env = gym.make(env_id, render_mode=render_mode)
    except gym.error.Error as e:
        raise ConfigError(f"config.env_id={env_id!r} is not a registered gymnasium env: {e}") from e
    if not isinstance(env.action_space, gym.spaces.Box):
        env.close()
        raise ConfigError(
            f"config.env_id={env_id!r} has action space {env.action_space}; SAC needs a continuous "
            "Box action space"
        )
    if not isinstance(env.observation_space, gym.spaces.Box) or len(env.observation_space.shape) != 1:
        env.close()
        raise ConfigError(
            f"config.env_id={env_id!r} has observation space {env.observation_space}; "
            "a flat Box observation is required"
        )
    if not np.all(np.isfinite(env.action_space.low)) or not np.all(np.isfinite(env.action_space.high)):
        env.close()
        raise ConfigError(f"config.env_id={env_id!r} has unbounded actions; SAC needs finite bounds")
    unit = np.ones(env.action_space.shape, np.float32)
    env = gym.wrappers.RescaleAction(env, -unit, unit)
    env.action_space.seed(seed)
    return env


def env_dims(env: gym.Env) -> tuple[int, int]:
    return env.observation_space.shape[0], env.action_space.shape[0]
