"""LunarLander with the SB3 RL Zoo's tuned SAC values: do they explain its 3x faster solve?"""

# `hyperparams/sac.yml` in rl-baselines3-zoo, LunarLanderContinuous-v2: learning rate 7.3e-4
# decayed linearly to 0 over its 500k steps, tau 0.01, 400x300 networks; batch 256, buffer 1e6,
# gamma 0.99, learned alpha, one update per env step and 10k warm-up steps, as in
# configs/lunarlander.py. total_steps is the zoo's 500k so that the decay has the zoo's slope; stop
# the run where you want to compare (docs/results/learning.md stopped it after its 60k evaluation).

from configs.lunarlander import get_config as lunarlander


def get_config():
    c = lunarlander()
    c.total_steps = 500_000
    c.actor_lr = c.critic_lr = c.alpha_lr = 7.3e-4
    c.lr_schedule = "linear"
    c.tau = 0.01
    c.hidden_dims = (400, 300)
    return c
