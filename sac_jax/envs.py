"""Gymnasium environments: construction (checked, seeded, actions rescaled to [-1, 1]) and the
episode snapshot that lets a resumed run continue the episode in progress."""

import importlib
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from sac_jax.config import ConfigError

# Env id namespaces whose envs a package registers on import: namespace -> (module, extra).
PLUGINS = {"dm_control": ("shimmy", "dmc")}

EnvCreator = Callable[..., gym.Env]  # a gymnasium.Env subclass, or a function returning an env


def entry_point(creator: EnvCreator) -> str:
    """`module:Name` of an env class or factory: the env id a run made with it records (one
    defined inside a function keeps its dotted path, which only that function can re-make)."""
    return f"{creator.__module__}:{creator.__qualname__.replace('.<locals>.', '.')}"


def _creator(env_id: str) -> EnvCreator | None:
    """The callable an env id names (`package.module:Name`), or None for a registered id.

    gymnasium's own `module:EnvId-v0` form (the import registers the id) is left to gym.make.
    """
    namespace = env_id.split("/")[0] if "/" in env_id else None
    if namespace in PLUGINS and env_id not in gym.registry:
        module, extra = PLUGINS[namespace]
        try:
            gym.register_envs(importlib.import_module(module))
        except ImportError as e:
            raise ConfigError(
                f'config.env_id={env_id!r} needs {module}: pip install -e ".[{extra}]" ({e})'
            ) from e
    if ":" not in env_id or env_id in gym.registry:
        return None
    module_name, name = env_id.split(":", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"config.env_id={env_id!r}: cannot import {module_name!r}: {e}") from e
    creator = getattr(module, name, None)
    if callable(creator) or name in gym.registry:
        return creator if callable(creator) else None
    raise ConfigError(
        f"config.env_id={env_id!r}: module {module_name!r} has no env class or factory {name!r}"
    )


def make_env(
    env_id: str,
    seed: int,
    render_mode: str | None = None,
    env_kwargs: dict | None = None,
    creator: EnvCreator | None = None,
) -> gym.Env:
    """The env `env_id` names, checked, seeded, with observations flattened to one vector and
    actions seen by the agent as [-1, 1]^action_dim.

    `env_id` is a registered id or `package.module:Name` (an Env subclass or a factory), or
    only a label when `creator` is given. `env_kwargs` go to the env (gym.make's own, such as
    max_episode_steps, too). `render_mode` is passed only when set, so an env whose constructor
    takes none trains. The env's own bounds (Humanoid: +-0.4) are restored by `RescaleAction`.
    """
    kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    creator = creator or _creator(env_id)
    try:
        env = gym.make(EnvSpec(id=env_id, entry_point=creator) if creator else env_id, **kwargs)
    except gym.error.Error as e:
        raise ConfigError(f"config.env_id={env_id!r} is not a registered gymnasium env: {e}") from e
    except TypeError as e:
        if "render_mode" in str(e):
            raise ConfigError(
                f"{env_id!r} takes no render_mode argument; videos need render_mode='rgb_array' "
                f"({e})"
            ) from e
        raise ConfigError(f"config.env_kwargs={kwargs!r} does not fit {env_id!r}: {e}") from e
    try:
        _check_action_space(env.action_space)
        env = _flat_observations(env)
    except ConfigError as e:
        env.close()
        raise ConfigError(f"config.env_id={env_id!r}: {e}") from None
    unit = np.ones(env.action_space.shape, env.action_space.dtype)
    env = gym.wrappers.RescaleAction(env, -unit, unit)
    env.action_space.seed(seed)
    return env


def _check_action_space(space: gym.Space) -> None:
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ConfigError(
            f"action space {space}; SAC needs a continuous Box action space with one axis"
        )
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ConfigError(f"action space {space} is unbounded; SAC needs finite bounds")
    if not np.all(space.low < space.high):
        raise ConfigError(f"action space {space} has low >= high in some dimension")


def _is_image(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) >= 2


def _flat_observations(env: gym.Env) -> gym.Env:
    """A flat Box stays as it is; a Dict (in its key order), Tuple or n-D Box of numbers is
    flattened by `FlattenObservation`. Images and spaces with no flat form are refused."""
    space = env.observation_space
    parts = space.spaces.items() if isinstance(space, gym.spaces.Dict) else [("", space)]
    images = [f"{key or 'observation'}: {sub}" for key, sub in parts if _is_image(sub)]
    if images:
        raise ConfigError(
            f"image observations ({', '.join(images)}) are not supported; SAC here learns from "
            "state vectors"
        )
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return env
    if isinstance(space, gym.spaces.Dict | gym.spaces.Tuple):
        entries = space.spaces.items() if isinstance(space, gym.spaces.Dict) else enumerate(space)
        others = [f"{key}: {sub}" for key, sub in entries if not isinstance(sub, gym.spaces.Box)]
        if others:  # nested or discrete entries: no shape for the checkpoint, no one-hot in policy
            raise ConfigError(
                f"observation entries that are not Boxes ({', '.join(others)}); SAC here takes a "
                "Dict or Tuple of Boxes: flatten or encode those entries in the env"
            )
    try:
        gym.spaces.flatdim(space)
    except (NotImplementedError, ValueError, TypeError) as e:
        raise ConfigError(
            f"observation space {space} has no flat vector form; SAC needs a Box, or a Dict or "
            "Tuple of Boxes"
        ) from e
    return gym.wrappers.FlattenObservation(env)


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

    Captured, for gymnasium's own envs only: MuJoCo envs (MuJoCo's full integration state: qpos,
    qvel, act, warm start, controls, time, ...; plus the body positions the last `mj_step` left,
    which are one substep behind qpos and which Ant and Humanoid read for their reward before
    stepping) and envs that keep their physics in a NumPy `state` attribute (Pendulum,
    MountainCarContinuous); for both also the env's NumPy RNG and the TimeLimit step count. Not
    captured: dm_control tasks, Box2D envs (LunarLander, BipedalWalker) and every env defined
    elsewhere, whose episode may live in attributes this function cannot know (a goal drawn at
    reset), even when it subclasses one of gymnasium's.
    """
    inner, time_limit = env.unwrapped, _time_limit(env)
    if not type(inner).__module__.startswith("gymnasium.envs."):
        return None
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
    """What a checkpoint needs to know about its env without making one: sizes and real bounds.

    `env` is `make_env`'s: inside its `RescaleAction` is the env as made (the user's wrappers
    included), whose action bounds are the real ones; inside a `FlattenObservation`, the
    observation space the env returns."""
    made = env.env
    raw = made.env if isinstance(made, gym.wrappers.FlattenObservation) else made
    space, raw_obs = made.action_space, raw.observation_space
    keys = raw_obs.spaces if isinstance(raw_obs, gym.spaces.Dict) else {}
    return {
        "env_id": env.spec.id,
        "obs_keys": [[key, list(sub.shape)] for key, sub in keys.items()],
        "obs_dim": int(env.observation_space.shape[0]),
        "action_dim": int(space.shape[0]),
        "action_low": np.asarray(space.low, np.float64).tolist(),
        "action_high": np.asarray(space.high, np.float64).tolist(),
    }
