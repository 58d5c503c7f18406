"""Hopper, double-Q (each critic bootstraps from the other's target): does it curb overestimation?"""

from configs.experiments.common import experiment


def get_config():
    return experiment("Hopper-v5", num_critics=2, backup="doubleq")
