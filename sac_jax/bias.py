"""Value-estimation bias: the critics' Q(s_t, a_t) against the return the policy really gets.

At each evaluation, `config.bias_episodes` episodes are run with the stochastic policy pi (the
policy whose soft Q the critics learn; the deterministic evaluation policy is another policy).
For every visited (s_t, a_t):

- the estimate is the online critics' Q(s_t, a_t), reduced over the ensemble as the backup
  reduces it (min for `min` and `redq`, the mean for `mean` and `doubleq`, the mean of the
  truncated mixture's atoms for `tqc`);
- the truth is the Monte-Carlo soft return of the episode from there, the quantity SAC's backup
  estimates (eq. 2-3): G_t = r_t + sum_{k>=1} gamma^k (r_{t+k} - alpha log pi(a_{t+k}|s_{t+k})),
  in the critics' units (r is the env's reward times `reward_scale`). An n-step backup adds the
  entropy bonus only where it bootstraps, so with `n_step` = n the bonus counts at k = n, 2n, ...
  only. Without `backup_entropy` G is the plain discounted return, as the backup then is.

A time-limit truncation cuts the returns of the episode's last steps short. Those steps are
excluded: only steps at least H before a truncation count, gamma^H <= `TAIL_TOLERANCE`, so the
missing tail weighs at most 1% of a return. A terminated episode's returns are exact, all steps
count. Reported: the mean bias (Q - G) and, as in REDQ (Chen et al. 2021), the mean bias divided by
|mean G|.
"""

import math

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from sac_jax.losses import truncated_mixture
from sac_jax.normalization import normalize
from sac_jax.state import variables

TAIL_TOLERANCE = 0.01


def soft_returns(rewards, log_probs, gamma: float, alpha: float, n_step: int = 1) -> np.ndarray:
    """G_t = sum_k gamma^k r_{t+k} - alpha sum_{j>=1} gamma^(jn) log_probs[t+jn], n = `n_step`,
    in float64 (n = 1: the entropy bonus at every later step)."""
    rewards, log_probs = np.asarray(rewards, np.float64), np.asarray(log_probs, np.float64)
    length = len(rewards)
    discounted = np.empty(length)  # sum_k gamma^k r_{t+k}
    bonus = np.zeros(length)  # sum_{j>=1} gamma^(jn) log_probs[t+jn]; 0 within n of the end
    after = 0.0
    for t in range(length - 1, -1, -1):
        after = discounted[t] = rewards[t] + gamma * after
        if t + n_step < length:
            bonus[t] = gamma**n_step * (log_probs[t + n_step] + bonus[t + n_step])
    return discounted - alpha * bonus


def usable_steps(length: int, terminated: bool, gamma: float) -> int:
    """How many leading steps of an episode have returns exact to within TAIL_TOLERANCE."""
    if terminated or gamma == 0.0:
        return length
    horizon = math.ceil(math.log(TAIL_TOLERANCE) / math.log(gamma))
    return max(length - horizon, 0)


def measure(
    env: gym.Env,
    policy,
    q_values,
    episodes: int,
    seed: int,
    gamma: float,
    alpha: float,
    n_step: int = 1,
    reward_scale: float = 1.0,
):
    """{"q_bias", "q_bias_normalized", "q_estimate", "q_true", "q_steps"} over `episodes`.

    `policy(obs, i) -> (action, log_prob)` samples the policy for step i; `q_values(obs, actions)`
    gives the reduced Q of a whole episode at once. Returns NaNs when no step was usable.
    """
    estimates, truths = [], []
    step = 0
    for e in range(episodes):
        obs, _ = env.reset(seed=seed + e)
        observations, actions, rewards, log_probs = [], [], [], []
        terminated = truncated = False
        while not (terminated or truncated):
            action, log_prob = policy(obs, step)
            observations.append(obs)
            actions.append(action)
            log_probs.append(log_prob)
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(reward)
            step += 1
        n = usable_steps(len(rewards), terminated, gamma)
        if n:
            rewards = reward_scale * np.asarray(rewards, np.float64)
            truths.append(soft_returns(rewards, log_probs, gamma, alpha, n_step)[:n])
            estimates.append(
                np.asarray(q_values(np.stack(observations[:n]), np.stack(actions[:n])))
            )
    if not truths:
        nan = float("nan")
        return dict(q_bias=nan, q_bias_normalized=nan, q_estimate=nan, q_true=nan, q_steps=0)
    q, g = np.concatenate(estimates), np.concatenate(truths)
    bias = float(np.mean(q - g))
    return dict(
        q_bias=bias,
        q_bias_normalized=bias / max(abs(float(g.mean())), 1e-8),
        q_estimate=float(q.mean()),
        q_true=float(g.mean()),
        q_steps=int(g.size),
    )


@jax.jit
def _sample(actor, obs, key, obs_stats):
    if obs_stats is not None:
        obs = normalize(obs_stats, obs)
    return actor.apply_fn(variables(actor), obs).sample_and_log_prob(seed=key)


def _reduced_q(critic, obs, actions, obs_stats, backup: str, top_quantiles_to_drop: int):
    if obs_stats is not None:
        obs = normalize(obs_stats, obs)
    q = critic.apply_fn(variables(critic), obs, actions)
    if backup == "tqc":
        return truncated_mixture(q, top_quantiles_to_drop).mean(axis=0)
    return q.min(axis=0) if backup in ("min", "redq") else q.mean(axis=0)


_reduced_q = jax.jit(_reduced_q, static_argnames=("backup", "top_quantiles_to_drop"))


def measure_state(state, env: gym.Env, config, seed: int) -> dict:
    """`measure` with one trial's SACState (host or device arrays): its actor samples, its
    critics estimate; gamma, alpha and the reward scale are the state's own."""
    stats = state.obs_stats if config.normalize_obs else None
    key = jax.random.PRNGKey(seed)

    def policy(obs, i):
        action, log_prob = _sample(
            state.actor, jnp.asarray(obs, jnp.float32), jax.random.fold_in(key, i), stats
        )
        return np.asarray(action), float(log_prob)

    def q_values(obs, actions):
        return _reduced_q(
            state.critic,
            jnp.asarray(obs, jnp.float32),
            actions,
            stats,
            config.backup,
            config.top_quantiles_to_drop,
        )

    alpha = float(state.alpha) if config.backup_entropy else 0.0
    scalars = state.scalars
    return measure(
        env,
        policy,
        q_values,
        config.bias_episodes,
        seed,
        float(scalars.gamma),
        alpha,
        config.n_step,
        float(scalars.reward_scale),
    )
