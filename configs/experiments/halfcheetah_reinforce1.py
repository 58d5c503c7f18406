"""HalfCheetah: how well does a 1-sample REINFORCE actor gradient learn vs reparametrization?"""

from configs.experiments.common import experiment


def get_config():
    return experiment("HalfCheetah-v5", actor_gradient="reinforce", num_actor_samples=1)
