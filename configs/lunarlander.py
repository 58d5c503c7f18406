"""LunarLanderContinuous-v3 (Box2D): solved at an eval return >= 200."""

from sac_jax.config import default_config


def get_config():
    c = default_config()
    c.env_id = "LunarLanderContinuous-v3"
    c.total_steps = 200_000
    c.learning_starts = 10_000
    c.eval_interval = 10_000
    c.eval_episodes = 10
    return c
