"""Sanity: does default SAC reach a Pendulum return near -150 within 20k steps?"""

from sac_jax.config import default_config


def get_config():
    c = default_config()
    c.env_id = "Pendulum-v1"
    c.total_steps = 20_000
    c.learning_starts = 1_000
    c.eval_interval = 2_000
    c.eval_episodes = 5
    return c
