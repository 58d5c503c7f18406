"""Hopper with one critic: how much does Q overestimation hurt without a second critic?"""

from configs.experiments.common import experiment


def get_config():
    return experiment("Hopper-v5", num_critics=1, backup="min")  # min over one critic: that critic
