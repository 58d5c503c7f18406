"""The shared budget of the experiment configs, so each file states only what it varies."""

from sac_jax.config import task


def experiment(env_id: str, **overrides):
    """200k steps of `env_id` with a 5k-step warm-up and 5-episode evals every 5k steps."""
    budget = dict(total_steps=200_000, learning_starts=5_000, eval_interval=5_000, eval_episodes=5)
    return task(env_id, **{**budget, **overrides})
