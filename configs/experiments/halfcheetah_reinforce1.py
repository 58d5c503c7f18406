"""HalfCheetah: how well does a 1-sample REINFORCE actor gradient learn vs reparametrization?"""

from sac_jax.config import default_config


def get_config():
    c = default_config()
    c.env_id = "HalfCheetah-v5"
    c.total_steps = 200_000
    c.learning_starts = 5_000
    c.eval_interval = 5_000
    c.eval_episodes = 5
    c.actor_gradient = "reinforce"
    c.num_actor_samples = 1
    return c
