"""Hopper, clipped double-Q (min of two targets, SAC default): is the pessimistic backup best?"""

from configs.experiments.common import experiment


def get_config():
    return experiment("Hopper-v5", num_critics=2, backup="min")
