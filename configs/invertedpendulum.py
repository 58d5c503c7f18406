"""InvertedPendulum-v5 (MuJoCo): a quick check; a solved policy balances all 1000 steps (return 1000).

Per-env hyperparameters (docs/results/invertedpendulum.md). With the paper's tau 0.005 and gamma
0.99 the critic's targets approach their fixed point with a time constant of about
1 / (tau * (1 - gamma)) = 20,000 updates, the whole 20k budget: q_mean was still rising (about 46 of
a possible 100 at 20k) and the deterministic policy, solved at 11-18k, fell back on 2 of 5 seeds.
We take the learning rate, discount and target rate of the SB3 RL Zoo's tuned SAC entry for its
pendulum-balancing tasks (`hyperparams/sac.yml`, the pybullet defaults used by
InvertedDoublePendulumBulletEnv-v0 and InvertedPendulumSwingupBulletEnv-v0: learning rate 7.3e-4,
gamma 0.98, tau 0.02), a time constant of 1 / (0.02 * 0.02) = 2,500 updates. The rest of that
entry is not taken: gSDE exploration (not implemented here), 400x300 networks, 10k warm-up steps
(half this budget) and 8 updates every 8 steps (the same ratio as ours).
"""

from sac_jax.config import task


def get_config():
    # SB3 RL Zoo, sac.yml, pybullet defaults (InvertedDoublePendulumBulletEnv-v0 and
    # InvertedPendulumSwingupBulletEnv-v0, marked tuned); the paper's values were 3e-4, 0.99, 0.005.
    lr = 7.3e-4
    return task(
        "InvertedPendulum-v5",
        total_steps=20_000,
        learning_starts=1_000,
        eval_interval=2_000,
        log_interval=1_000,
        actor_lr=lr,
        critic_lr=lr,
        alpha_lr=lr,
        gamma=0.98,
        tau=0.02,
    )
