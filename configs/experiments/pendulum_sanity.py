"""Sanity: does default SAC reach a Pendulum return near -150 within 20k steps?"""

from configs.experiments.common import experiment


def get_config():
    return experiment("Pendulum-v1", total_steps=20_000, learning_starts=1_000, eval_interval=2_000)
