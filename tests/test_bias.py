"""The value-estimation bias estimator against returns known in closed form."""

import glob

import gymnasium as gym
import numpy as np
import pytest

from sac_jax import bias, create_state, loop, plot
from sac_jax.envs import make_env
from sac_jax.writers import read_rows
from tests.helpers import small_config
from tests.tiny import tiny_config

GAMMA = 0.99


class Countdown(gym.Env):
    """One reward of 1 per step; obs = [t]. Terminates after `length` steps, or never (then a
    TimeLimit truncates it). Q(s_t, a) in closed form: sum_{k < length - t} gamma^k, or
    1 / (1 - gamma) without termination."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, length: int | None):
        self.length, self.t = length, 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        terminated = self.length is not None and self.t >= self.length
        return np.array([self.t], np.float32), 1.0, terminated, False, {}


def constant_policy(log_prob):
    return lambda obs, i: (np.zeros(1, np.float32), log_prob)


def test_soft_returns_by_hand():
    # G_2 = 3; G_1 = 2 + 0.5 (3 - 0.1 * 4) = 3.3; G_0 = 1 + 0.5 (2 + 0.1) + 0.25 (3 - 0.4) = 2.7
    got = bias.soft_returns([1.0, 2.0, 3.0], [0.5, -1.0, 4.0], gamma=0.5, alpha=0.1)
    np.testing.assert_allclose(got, [2.7, 3.3, 3.0])
    plain = bias.soft_returns([1.0, 2.0, 3.0], [0.5, -1.0, 4.0], gamma=0.5, alpha=0.0)
    np.testing.assert_allclose(plain, [2.75, 3.5, 3.0])


def test_usable_steps_exclude_the_cut_off_tail_of_a_truncated_episode():
    assert bias.usable_steps(1000, terminated=True, gamma=GAMMA) == 1000
    assert bias.usable_steps(1000, terminated=False, gamma=GAMMA) == 1000 - 459  # 0.99^459 < 0.01
    assert bias.usable_steps(300, terminated=False, gamma=GAMMA) == 0


def test_n_step_soft_returns_by_hand():
    # n = 2, gamma 0.5, alpha 0.1: the bonus counts two and four steps on, not one and three.
    # G_0 = 1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4 - 0.1 * 0.25 * 4 = 3.15
    # G_1 = 2 + 0.5 * 3 + 0.25 * 4 - 0.1 * 0.25 * 2 = 4.45;  G_2 = 3 + 0.5 * 4 = 5;  G_3 = 4
    got = bias.soft_returns([1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 4.0, 2.0], 0.5, 0.1, n_step=2)
    np.testing.assert_allclose(got, [3.15, 4.45, 5.0, 4.0])


@pytest.mark.parametrize(
    "alpha, log_prob, reward_scale, n_step",
    [(0.0, 0.0, 1.0, 1), (0.2, 0.5, 1.0, 1), (0.2, 0.5, 5.0, 1), (0.2, 0.5, 1.0, 3)],
)
def test_an_exact_critic_has_no_bias_on_terminating_episodes(alpha, log_prob, reward_scale, n_step):
    """The critic's Q is in scaled rewards; an n-step backup bonuses only the steps it bootstraps
    from (n, 2n, ... ahead). Q by direct summation over the remaining steps."""
    length = 50

    def true_q(obs, actions):
        k = np.arange(length)
        ahead = k[None, :] < (length - obs[:, 0].astype(np.int64))[:, None]
        returns = (ahead * GAMMA**k).sum(axis=1) * reward_scale
        bonused = ahead & (k > 0) & (k % n_step == 0)
        return returns - alpha * log_prob * (bonused * GAMMA**k).sum(axis=1)

    def run(q_values, episodes):
        policy = constant_policy(log_prob)
        return bias.measure(
            Countdown(length), policy, q_values, episodes, 0, GAMMA, alpha, n_step, reward_scale
        )

    got = run(true_q, 2)
    assert got["q_steps"] == 2 * length
    assert abs(got["q_bias"]) < 1e-9 and abs(got["q_bias_normalized"]) < 1e-9
    over = run(lambda o, a: true_q(o, a) + 3.0, 1)
    assert over["q_bias"] == pytest.approx(3.0) and over["q_bias_normalized"] > 0


def test_a_truncated_episode_is_measured_on_the_steps_whose_return_is_not_cut_off():
    env = gym.wrappers.TimeLimit(Countdown(None), max_episode_steps=600)
    exact = lambda obs, actions: np.full(len(obs), 1.0 / (1.0 - GAMMA))  # noqa: E731
    got = bias.measure(env, constant_policy(0.0), exact, 1, 0, GAMMA, 0.0)
    assert got["q_steps"] == 600 - 459
    assert 0.0 < got["q_bias"] <= 0.01 * 100.0  # the excluded tail bounds the error at 1%
    # Without the exclusion, the last steps' returns would be far below Q (a bias near 100).
    full = bias.soft_returns(np.ones(600), np.zeros(600), GAMMA, 0.0)
    assert 100.0 - full.mean() > 10.0


def test_measure_state_on_a_real_policy_and_critic():
    config = tiny_config(gamma=0.9, bias_episodes=2)
    state = create_state(config, obs_dim=3, action_dim=1)
    env = make_env("Pendulum-v1", 0)
    got = bias.measure_state(state, env, config, seed=0)
    assert got["q_steps"] == 2 * (200 - 44)  # 0.9^44 < 0.01 <= 0.9^43
    assert np.isfinite(got["q_bias"]) and got["q_true"] < 0  # Pendulum's rewards are negative


def test_training_logs_the_bias_at_every_evaluation_and_plots_it(tmp_path):
    """gamma 0.9: Pendulum's 200-step episodes leave 156 usable steps each; with the default 0.99
    none (the tail is cut off), and no bias is logged rather than a NaN."""
    workdir = str(tmp_path / "run")
    loop.train(small_config(gamma=0.9), workdir, quiet=True)
    rows = read_rows(workdir, "eval.csv")
    assert [r["step"] for r in rows] == ["100", "200", "300"]
    assert all(int(r["q_steps"]) == 156 and np.isfinite(float(r["q_bias"])) for r in rows)
    events = b"".join(open(p, "rb").read() for p in glob.glob(f"{workdir}/events.out.tfevents.*"))
    assert b"eval/q_bias_normalized" in events
    png = tmp_path / "bias.png"
    plot.main([workdir, "--metric", "q_bias_normalized", "--out", str(png)])
    assert png.stat().st_size > 0
    default_gamma = str(tmp_path / "default")
    loop.train(small_config(total_steps=100), default_gamma, quiet=True)
    assert "q_bias" not in read_rows(default_gamma, "eval.csv")[0]
