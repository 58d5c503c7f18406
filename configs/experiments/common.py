"""The shared budget of the experiment configs, so each file states only what it varies."""

from sac_jax.config import default_config


def experiment(env_id: str, total_steps: int = 200_000, **overrides):
    """`default_config()` on `env_id` with a 5k-step warm-up and 5-episode evals every 5k steps."""
    c = default_config()
    c.update(
        env_id=env_id,
        total_steps=total_steps,
        learning_starts=5_000,
        eval_interval=5_000,
        eval_episodes=5,
    )
    c.update(overrides)
    return c
