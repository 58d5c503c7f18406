"""The small config every end-to-end test starts from: fast to compile and run on a 2-core CPU."""

import ml_collections

from sac_jax.config import default_config

# Sizes of a run that compiles and finishes in seconds; the env is each test's own.
TINY_RUN = dict(
    hidden_dims=(32, 32),
    batch_size=32,
    buffer_size=10_000,
    learning_starts=100,
    total_steps=300,
    eval_interval=300,
    eval_episodes=1,
    log_interval=100,
)


def tiny_config(**overrides) -> ml_collections.ConfigDict:
    c = default_config()
    c.update(env_id="Pendulum-v1", **TINY_RUN)
    c.update(overrides)
    return c
