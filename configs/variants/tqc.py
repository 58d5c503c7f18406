"""TQC (Kuznetsov et al. 2020, "Controlling Overestimation Bias with Truncated Mixture of
Continuous Distributional Quantile Critics"): 5 critics of 25 quantiles, each a 3x512 MLP, a 2x256
actor, the 2 largest atoms per critic dropped from the pooled target. The paper drops 5 on Hopper
and 0 on HalfCheetah: --config.env_id=Hopper-v5 --config.top_quantiles_to_drop=5."""

from sac_jax.config import task


def get_config():
    return task(
        "Walker2d-v5",
        backup="tqc",
        num_critics=5,
        num_quantiles=25,
        top_quantiles_to_drop=2,
        hidden_dims=(256, 256),
        critic_hidden_dims=(512, 512, 512),
    )
