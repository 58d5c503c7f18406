"""CrossQ (Bhatt et al. 2024, "CrossQ: Batch Normalization in Deep Reinforcement Learning for
Greater Sample Efficiency and Simplicity", ICLR): Batch Renormalization in the actor and the
critics (momentum 0.99, r_max 3, d_max 5, plain batch norm for the first 100k training passes of
each network), the critics run once on the joint batch of (s, a) and (s', a' ~ pi), no target
network, Adam with learning rate 1e-3 and beta1 0.5, the actor and temperature every 3rd update.
The paper's critics are 2x2048 (--config.critic_hidden_dims="(2048, 2048)"); 2x512 here keeps an
update affordable on a CPU. The actor is 2x256 as in the paper."""

from sac_jax.config import task


def get_config():
    return task(
        "Walker2d-v5",
        batch_renorm=True,
        batch_renorm_warmup=100_000,
        target_update="none",
        hidden_dims=(256, 256),
        critic_hidden_dims=(512, 512),
        actor_lr=1e-3,
        critic_lr=1e-3,
        alpha_lr=1e-3,
        adam_b1=0.5,
        actor_update_period=3,
    )
