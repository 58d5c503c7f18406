"""Environments beyond registered flat-Box ids: entry points, env_kwargs, factories, Dict
observations, dm_control, and clear errors for spaces the agent cannot use."""

import gymnasium as gym
import numpy as np
import pytest

from sac_jax.acting import episode_returns
from sac_jax.config import ConfigError
from sac_jax.envs import make_env
from sac_jax.loop import train
from sac_jax.policy import load_policy
from tests.custom_envs import PointMass
from tests.helpers import run_cli
from tests.tiny import tiny_config

SPACE_ENV = "tests.custom_envs:SpaceEnv"


def test_entry_point_with_env_kwargs_trains_from_the_command_line(tmp_path):
    workdir = tmp_path / "run"
    cli = [
        "train.py", "--config", "configs/pendulum.py",
        "--config.env_id=tests.custom_envs:PointMass",
        '--config.env_kwargs={"target": 1.5, "max_steps": 25}',
        "--config.hidden_dims=(32,32)", "--config.batch_size=32", "--config.total_steps=150",
        "--config.learning_starts=50", "--config.eval_interval=150", "--config.eval_episodes=1",
        f"--workdir={workdir}",
    ]  # fmt: skip
    out = run_cli(*cli)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "tests.custom_envs:PointMass (obs 2, action 2)" in out.stdout
    policy = load_policy(str(workdir))
    assert policy.env_id == "tests.custom_envs:PointMass"
    env = make_env(policy.env_id, 0, env_kwargs=policy.config.env_kwargs)
    assert (env.unwrapped.target, env.spec.max_episode_steps) == (1.5, None)
    assert env.unwrapped.max_steps == 25  # the kwargs reached the env's constructor


def test_factory_and_asymmetric_bounds(tmp_path):
    """A factory passed to train() makes the envs; every action the env receives lies in its own
    bounds [0, 5] x [-3, 1], the warm-up's uniform actions span them, and load_policy's actions
    do too."""
    made = []

    def point_mass(**kwargs):
        made.append(PointMass(**kwargs))
        return made[-1]

    config = tiny_config(total_steps=200, learning_starts=100, eval_interval=200)
    config.env_kwargs = {"max_steps": 10}
    train(config, str(tmp_path / "run"), quiet=True, make_env=point_mass)
    received = np.concatenate([np.stack(env.received) for env in made if env.received])
    low, high = np.array([0.0, -3.0]), np.array([5.0, 1.0])
    assert len(received) >= 200 and np.all(received >= low) and np.all(received <= high)
    np.testing.assert_allclose(received.min(0), low, atol=0.2)
    np.testing.assert_allclose(received.max(0), high, atol=0.2)
    policy = load_policy(str(tmp_path / "run"))
    assert policy.env_id.endswith(":test_factory_and_asymmetric_bounds.point_mass")
    actions = policy(np.random.default_rng(0).normal(size=(64, 2)) * 3, deterministic=False)
    assert np.all(actions >= low) and np.all(actions <= high)


def test_a_checkpoint_records_the_bounds_of_the_env_as_the_factory_wrapped_it(tmp_path):
    """The factory limits Pendulum's torque to [-0.5, 0.5] with a wrapper: the checkpoint, and so
    load_policy's actions, keep to those bounds, not the inner env's +-2."""

    def gentle_pendulum(**kwargs):
        return gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), -0.5, 0.5)

    config = tiny_config(total_steps=200, learning_starts=100, eval_interval=200)
    train(config, str(tmp_path), quiet=True, make_env=gentle_pendulum)
    policy = load_policy(str(tmp_path))
    actions = policy(np.random.default_rng(0).normal(size=(256, 3)) * 5, deterministic=False)
    assert np.all(np.abs(actions) <= 0.5) and np.abs(actions).max() > 0.25


def test_dict_observations_flatten_in_key_order():
    env = make_env(SPACE_ENV, 0, env_kwargs={"obs": "dict"})
    assert env.observation_space.shape == (3,)
    obs, _ = env.reset(seed=0)
    raw = env.unwrapped.observation_space  # Dict keys sorted: angle, velocity
    assert list(raw.spaces) == ["angle", "velocity"]
    raw_obs = env.unwrapped.last_obs
    np.testing.assert_array_equal(obs, np.append(raw_obs["angle"], raw_obs["velocity"]))


@pytest.mark.parametrize(
    "obs, action, message",
    [
        ("flat", "discrete", r"action space Discrete\(3\); SAC needs a continuous Box"),
        ("flat", "unbounded", r"action space Box\(-inf, inf, \(2,\), float32\) is unbounded"),
        ("flat", "matrix", r"action space Box\(-1.0, 1.0, \(2, 2\), float32\); SAC needs"),
        ("image", "box", r"image observations \(observation: Box\(0, 255, \(8, 8, 3\), uint8\)"),
        ("dict_image", "box", r"image observations \(pixels: Box\(0, 255"),
        ("nested", "box", r"observation entries that are not Boxes \(robot: Dict\('q'"),
        ("tuple_discrete", "box", r"observation entries that are not Boxes \(1: Discrete\(3\)\)"),
        (
            "sequence",
            "box",
            r"observation space Sequence\(Box\(-1.0, 1.0, \(2,\), float32\), stack=False\) has no flat",
        ),
    ],
)
def test_unusable_spaces_are_refused_by_name(obs, action, message):
    with pytest.raises(ConfigError, match=rf"config.env_id='{SPACE_ENV}': {message}"):
        make_env(SPACE_ENV, 0, env_kwargs={"obs": obs, "action": action})


def test_training_refuses_an_unusable_env_before_writing(tmp_path):
    config = tiny_config(env_id=SPACE_ENV)
    config.env_kwargs = {"action": "discrete"}
    with pytest.raises(ConfigError, match="Discrete"):
        train(config, str(tmp_path / "run"), quiet=True)
    assert not (tmp_path / "run").exists()


def test_env_errors_name_the_problem():
    with pytest.raises(ConfigError, match="cannot import 'no_such_module'"):
        make_env("no_such_module:Env", 0)
    with pytest.raises(ConfigError, match="module 'tests.custom_envs' has no env class or fact"):
        make_env("tests.custom_envs:NoSuchEnv", 0)
    with pytest.raises(ConfigError, match=r"config.env_kwargs=\{'bogus': 1\} does not fit"):
        make_env("tests.custom_envs:PointMass", 0, env_kwargs={"bogus": 1})
    with pytest.raises(ConfigError, match="takes no render_mode argument; videos need"):
        make_env("tests.custom_envs:PointMass", 0, render_mode="rgb_array")


def test_gym_make_kwargs_pass_through():
    env = make_env("Pendulum-v1", 0, env_kwargs={"g": 3.0, "max_episode_steps": 50})
    assert (env.unwrapped.g, env.spec.max_episode_steps) == (3.0, 50)


def test_dm_control_trains_resumes_and_acts_on_dict_observations(tmp_path):
    """A dm_control task through shimmy: Dict observations flattened in the Dict's key order;
    resume starts a new episode (its physics state is not checkpointed); load_policy takes the
    env's dict observations and acts as on the flat vector."""
    pytest.importorskip("shimmy")
    workdir = str(tmp_path / "run")
    config = tiny_config(env_id="dm_control/cartpole-swingup-v0", checkpoint_interval=200)
    config.env_kwargs = {"task_kwargs": {"time_limit": 1.0}}  # 100-step episodes
    config.bias_episodes = 0
    train(config, workdir, quiet=True)
    config.total_steps = 400
    (result,) = train(config, workdir, quiet=True)
    assert np.isfinite(result["return_mean"])
    policy = load_policy(workdir)
    assert policy.step == 400
    assert policy.obs_keys == [("position", (3,)), ("velocity", (2,))]
    env = make_env(policy.env_id, 0, env_kwargs=policy.config.env_kwargs)
    flat, _ = env.reset(seed=0)
    raw = env.unwrapped._env.physics  # the same state, read as the task's dict observation
    obs = {"position": raw.bounded_position(), "velocity": raw.velocity()}
    np.testing.assert_allclose(np.append(obs["position"], obs["velocity"]), flat, rtol=1e-6)
    np.testing.assert_array_equal(policy(obs), policy(flat))
    batch = {key: np.stack([value] * 3) for key, value in obs.items()}
    np.testing.assert_array_equal(policy(batch), policy(np.stack([flat] * 3)))


def test_episode_returns_sums_each_episode_of_any_policy():
    """The evaluation protocol shared with peer libraries: a hand-worked PointMass episode.

    Force 5 moves the point 0.5 per step towards target 2: x = 0.5, 1.0, 1.5, 2.0, so each
    4-step episode returns -(1.5 + 1.0 + 0.5 + 0.0) = -3.
    """
    seen = []

    def policy(obs):
        seen.append(obs.copy())
        return np.array([5.0, 0.0])

    returns = episode_returns(policy, PointMass(target=2.0, max_steps=4), episodes=2, seed=0)
    np.testing.assert_allclose(returns, [-3.0, -3.0])
    np.testing.assert_allclose([o[0] for o in seen], [0.0, 0.5, 1.0, 1.5] * 2)
