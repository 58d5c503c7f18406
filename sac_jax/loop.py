"""The thin training loop: act, step, store, update, evaluate, log.

Per env step the host does one small device call (the exploration action, which the env needs)
and dispatches one update without waiting for it: the env steps while the update runs. Metrics
stay on the device until a log interval. With normalize_obs, observations are collected on the
host and merged into the state's running statistics every `OBS_STATS_CHUNK` steps, in one call.
"""

import json
import os
import time

import gymnasium as gym
import jax
import ml_collections
import numpy as np

from sac_jax import config as config_lib
from sac_jax.envs import env_dims, make_env
from sac_jax.normalization import update_stats
from sac_jax.replay import ReplayBuffer
from sac_jax.state import create_state
from sac_jax.update import select_action, update_steps
from sac_jax.writers import Progress, RunWriter

OBS_STATS_CHUNK = 1_000


def evaluate(actor, env: gym.Env, episodes: int, seed: int, obs_stats=None) -> np.ndarray:
    """Undiscounted returns of `episodes` deterministic (tanh-mean) episodes."""
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            action = np.asarray(select_action(actor, obs.astype(np.float32), None, obs_stats))
            obs, reward, terminated, truncated, _ = env.step(action)
            returns[i] += reward
            done = terminated or truncated
    return returns


def default_workdir(config: ml_collections.ConfigDict) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{config.env_id}_seed{config.seed}_{stamp}")


def train(
    config: ml_collections.ConfigDict, workdir: str, quiet: bool = False, update_fn=update_steps
) -> dict:
    """Train SAC as `config` says; write all outputs to `workdir`. Returns the last eval row.

    `update_fn(state, batches) -> (state, metrics)` consumes batches shaped
    (num_critic_updates, batch_size, ...); pass `sac_jax.make_update_steps(my_step)` for a variant.
    """
    config_lib.validate(config)
    log = (lambda *_: None) if quiet else (lambda msg: print(msg, flush=True))
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(config.to_json_best_effort(indent=2))

    env = make_env(config.env_id, config.seed)
    eval_env = make_env(config.env_id, config.seed + 1)
    obs_dim, action_dim = env_dims(env)
    state = create_state(config, obs_dim, action_dim)
    buffer = ReplayBuffer(config.buffer_size, obs_dim, action_dim, seed=config.seed)
    writer = RunWriter(workdir)
    progress = Progress(config.total_steps)
    log(f"sac_jax: {config.env_id} (obs {obs_dim}, action {action_dim}), seed {config.seed}, "
        f"{config.total_steps} steps, workdir {workdir}")  # fmt: skip

    explore_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 1)
    explore = jax.jit(
        lambda actor, o, t, stats: select_action(actor, o, jax.random.fold_in(explore_key, t), stats)
    )
    obs_stats = (lambda s: s.obs_stats) if config.normalize_obs else (lambda s: None)
    seen_obs = np.zeros((OBS_STATS_CHUNK, obs_dim), np.float32)
    random_actions = np.random.default_rng(config.seed)

    obs, _ = env.reset(seed=config.seed)
    episode_return, episode_returns = 0.0, []
    metrics, last_eval = None, {}
    for step in range(1, config.total_steps + 1):
        if step <= config.learning_starts:
            action = random_actions.uniform(-1.0, 1.0, action_dim).astype(np.float32)
        else:
            action = np.asarray(explore(state.actor, obs.astype(np.float32), step, obs_stats(state)))
            batches = buffer.sample(config.batch_size, config.num_critic_updates)
            state, metrics = update_fn(state, batches)  # async: the env steps meanwhile

        next_obs, reward, terminated, truncated, _ = env.step(action)
        if config.normalize_obs:
            seen_obs[step % OBS_STATS_CHUNK] = next_obs
            if step % OBS_STATS_CHUNK == 0:
                state = state.replace(obs_stats=update_stats(state.obs_stats, seen_obs))
        buffer.add(obs, action, reward, terminated, truncated, next_obs)
        episode_return += float(reward)
        if terminated or truncated:
            episode_returns.append(episode_return)
            episode_return = 0.0
            obs, _ = env.reset()
        else:
            obs = next_obs

        if step % config.eval_interval == 0 or step == config.total_steps:
            returns = evaluate(
                state.actor, eval_env, config.eval_episodes, config.seed + step, obs_stats(state)
            )
            last_eval = {"return_mean": float(returns.mean()), "return_std": float(returns.std())}
            writer.write_eval(step, last_eval)
        if step % config.log_interval == 0 or step == config.total_steps:
            sps = progress.rate(step)
            row = {"steps_per_sec": sps}
            if episode_returns:
                row["episode_return"] = episode_returns[-1]
            if metrics is not None:
                row.update({k: float(v) for k, v in jax.device_get(metrics).items()})
            writer.write_train(step, row)
            log(progress.line(step, sps, last_eval.get("return_mean"), row.get("alpha")))

    writer.close()
    env.close()
    eval_env.close()
    return last_eval
