"""HalfCheetah reference for the REINFORCE runs: how fast does the reparametrized gradient learn?"""

from configs.experiments.common import experiment


def get_config():
    return experiment("HalfCheetah-v5", actor_gradient="reparametrize")
