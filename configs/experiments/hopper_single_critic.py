"""Hopper with one critic: how much does Q overestimation hurt without a second critic?"""

from sac_jax.config import default_config


def get_config():
    c = default_config()
    c.env_id = "Hopper-v5"
    c.total_steps = 200_000
    c.learning_starts = 5_000
    c.eval_interval = 5_000
    c.eval_episodes = 5
    c.num_critics = 1
    c.backup = "min"  # the min over one critic is that critic
    return c
