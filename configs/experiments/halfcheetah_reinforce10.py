"""HalfCheetah: does averaging 10 REINFORCE samples per state close the gap to reparametrization?"""

from configs.experiments.common import experiment


def get_config():
    return experiment("HalfCheetah-v5", actor_gradient="reinforce", num_actor_samples=10)
