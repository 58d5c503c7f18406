"""Environments a researcher might bring, importable as `tests.custom_envs:Name` entry points.

None of them is registered with gymnasium, and none takes a `render_mode` argument.
"""

import gymnasium as gym
import numpy as np


class PointMass(gym.Env):
    """A point on a line pushed towards `target`, with asymmetric action bounds.

    Action (force, brake) in low [0, -3], high [5, 1]; only the force moves the point. Every
    action the env receives is kept in `received`, so a test can check the bounds it saw.
    """

    def __init__(self, target: float = 2.0, max_steps: int = 20):
        self.target, self.max_steps = target, max_steps
        self.action_space = gym.spaces.Box(
            np.array([0.0, -3.0], np.float32), np.array([5.0, 1.0], np.float32)
        )
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,))
        self.received: list[np.ndarray] = []

    def _obs(self):
        return np.array([self.x, self.target], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = 0.0, 0
        return self._obs(), {}

    def step(self, action):
        self.received.append(np.asarray(action, np.float64).copy())
        self.x += 0.1 * float(action[0])
        self.t += 1
        reward = -abs(self.x - self.target)
        return self._obs(), reward, False, self.t >= self.max_steps, {}


def make_point_mass(**kwargs) -> gym.Env:
    """A factory entry point: returns the env instead of being its class."""
    return PointMass(**kwargs)


_SPACES = {
    "flat": gym.spaces.Box(-1.0, 1.0, (3,)),
    "dict": gym.spaces.Dict(
        {"velocity": gym.spaces.Box(-1.0, 1.0, (2,)), "angle": gym.spaces.Box(-1.0, 1.0, ())}
    ),
    "image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8),
    "dict_image": gym.spaces.Dict(
        {"pixels": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8), "x": gym.spaces.Box(-1, 1, (2,))}
    ),
    "nested": gym.spaces.Dict(
        {
            "goal": gym.spaces.Box(-1, 1, (2,)),
            "robot": gym.spaces.Dict({"q": gym.spaces.Box(-1, 1)}),
        }
    ),
    "tuple_discrete": gym.spaces.Tuple((gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(3))),
    "sequence": gym.spaces.Sequence(gym.spaces.Box(-1.0, 1.0, (2,))),
    "box": gym.spaces.Box(-1.0, 1.0, (2,)),
    "discrete": gym.spaces.Discrete(3),
    "unbounded": gym.spaces.Box(-np.inf, np.inf, (2,)),
    "matrix": gym.spaces.Box(-1.0, 1.0, (2, 2)),
}


class SpaceEnv(gym.Env):
    """An env with the observation and action spaces named by `obs` and `action` (keys of
    `_SPACES`), for the checks on spaces the agent cannot use."""

    def __init__(self, obs: str = "flat", action: str = "box"):
        self.observation_space, self.action_space = _SPACES[obs], _SPACES[action]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.last_obs = self.observation_space.sample()
        return self.last_obs, {}

    def step(self, action):
        self.last_obs = self.observation_space.sample()
        return self.last_obs, 0.0, False, True, {}
