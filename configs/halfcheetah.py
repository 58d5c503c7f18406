"""HalfCheetah-v5 (MuJoCo), 1M steps with the SAC paper's hyperparameters, except the target
entropy: -dim(A)/2 = -3 (jaxrl's SAC) instead of -dim(A) = -6. At 300k steps the 3 seeds of each
end at 8463 +- 150 and 7862 +- 637 (reference 8600); three seeds do not resolve the difference
(docs/results/mujoco.md). `--config.target_entropy=-6` restores the paper's value."""

from sac_jax.config import task


def get_config():
    return task("HalfCheetah-v5", learning_starts=10_000, target_entropy=-3.0)
