"""Gymnasium environments: construction (checked, seeded, actions rescaled to [-1, 1]) and the
episode snapshot that lets a resumed run continue the episode in progress."""

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
    if (
        not isinstance(env.observation_space, gym.spaces.Box)
        or len(env.observation_space.shape) != 1
    ):
        env.close()
        raise ConfigError(
            f"config.env_id={env_id!r} has observation space {env.observation_space}; "
            "a flat Box observation is required"
        )
    if not np.all(np.isfinite(env.action_space.low)) or not np.all(
        np.isfinite(env.action_space.high)
    ):
        env.close()
        raise ConfigError(
            f"config.env_id={env_id!r} has unbounded actions; SAC needs finite bounds"
        )
    unit = np.ones(env.action_space.shape, np.float32)
    env = gym.wrappers.RescaleAction(env, -unit, unit)
    env.action_space.seed(seed)
    return env


def env_dims(env: gym.Env) -> tuple[int, int]:
    return env.observation_space.shape[0], env.action_space.shape[0]


def _time_limit(env: gym.Env) -> gym.wrappers.TimeLimit | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return env
        env = env.env
    return None


_MUJOCO_BODY_POSITIONS = ("xpos", "xipos")  # body frames and centers of mass


def _mujoco_state_spec():
    import mujoco  # imported late: MUJOCO_GL must be set before mujoco is first imported

    return mujoco, mujoco.mjtState.mjSTATE_INTEGRATION


def env_state(env: gym.Env) -> dict | None:
    """The env's episode state as JSON data, or None for envs whose state is not captured.

    Captured: MuJoCo envs (MuJoCo's full integration state: qpos, qvel, act, warm start,
    controls, time, ...; plus the body positions the last `mj_step` left, which are one substep
    behind qpos and which Ant and Humanoid read for their reward before stepping) and envs that
    keep their physics in a NumPy `state` attribute (Pendulum, MountainCarContinuous); for both
    also the env's NumPy RNG and the TimeLimit step count. Not captured: Box2D envs (LunarLander,
    BipedalWalker) and anything else.
    """
    inner, time_limit = env.unwrapped, _time_limit(env)
    if hasattr(inner, "model") and hasattr(inner, "data"):
        mujoco, spec = _mujoco_state_spec()
        physics = np.empty(mujoco.mj_stateSize(inner.model, spec))
        mujoco.mj_getState(inner.model, inner.data, physics, spec)
        saved = {"mujoco_state": physics.tolist()}
        saved.update({name: getattr(inner.data, name).tolist() for name in _MUJOCO_BODY_POSITIONS})
    elif isinstance(getattr(inner, "state", None), np.ndarray):
        saved = {"state": inner.state.tolist(), "dtype": inner.state.dtype.str}
    else:
        return None
    saved["np_random"] = inner.np_random.bit_generator.state
    saved["elapsed_steps"] = time_limit._elapsed_steps if time_limit else None
    return saved


def set_env_state(env: gym.Env, saved: dict) -> None:
    """Inverse of `env_state`, on an env that has been reset (so its wrappers allow `step`)."""
    inner, time_limit = env.unwrapped, _time_limit(env)
    if "mujoco_state" in saved:
        mujoco, spec = _mujoco_state_spec()
        mujoco.mj_setState(inner.model, inner.data, np.asarray(saved["mujoco_state"]), spec)
        mujoco.mj_forward(inner.model, inner.data)
        for name in _MUJOCO_BODY_POSITIONS:  # as they were, not as mj_forward recomputed them
            getattr(inner.data, name)[:] = saved[name]
    else:
        inner.state = np.asarray(saved["state"], np.dtype(saved["dtype"]))
    inner.np_random.bit_generator.state = saved["np_random"]
    if time_limit is not None:
        time_limit._elapsed_steps = saved["elapsed_steps"]


def env_info(env: gym.Env) -> dict:
    """What a checkpoint needs to know about its env without making one: sizes and real bounds."""
    space = env.unwrapped.action_space
    return {
        "env_id": env.spec.id,
        "obs_dim": int(env.observation_space.shape[0]),
        "action_dim": int(space.shape[0]),
        "action_low": np.asarray(space.low, np.float64).tolist(),
        "action_high": np.asarray(space.high, np.float64).tolist(),
    }
