"""Hopper, double-Q (each critic bootstraps from the other's target): does it curb overestimation?"""

from sac_jax.config import default_config


def get_config():
    c = default_config()
    c.env_id = "Hopper-v5"
    c.total_steps = 200_000
    c.learning_starts = 5_000
    c.eval_interval = 5_000
    c.eval_episodes = 5
    c.num_critics = 2
    c.backup = "doubleq"
    return c
