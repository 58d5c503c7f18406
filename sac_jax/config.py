"""The default SAC configuration and its validation.

Every file under `configs/` starts from `default_config()` and overrides fields, so the set of
fields is defined once, here. `validate` rejects bad values early with a message that names the
field, the value and what is allowed.
"""

import ml_collections
from ml_collections import config_dict

from sac_jax.networks import ACTIVATIONS


def default_config() -> ml_collections.ConfigDict:
    """SAC with automatic temperature (Haarnoja et al. 2018, "Algorithms and Applications")."""
    c = ml_collections.ConfigDict()
    # Task and run.
    c.env_id = "Pendulum-v1"
    c.seed = 0
    c.total_steps = 1_000_000
    c.learning_starts = 5_000  # uniform random actions before this many env steps
    c.eval_interval = 10_000
    c.eval_episodes = 10
    c.log_interval = 1_000
    # Checkpoints (WORKDIR/checkpoints/, see docs/checkpoints.md).
    c.checkpoint_interval = 50_000  # env steps between saves; a run also saves at its end
    c.keep_checkpoints = 2  # the latest K are kept, plus the best by eval return
    c.checkpoint_buffer = True  # save the replay buffer too (exact resume; large for long runs)
    # Replay.
    c.batch_size = 256
    c.buffer_size = 1_000_000
    c.updates_per_step = 1  # gradient updates per env step, fused into one dispatch
    # SAC.
    c.gamma = 0.99
    c.tau = 0.005
    c.actor_lr = 3e-4
    c.critic_lr = 3e-4
    c.alpha_lr = 3e-4
    c.learn_alpha = True  # False keeps alpha fixed at init_alpha
    c.init_alpha = 1.0
    c.target_entropy = config_dict.placeholder(float)  # None -> -action_dim
    # Networks.
    c.hidden_dims = (256, 256)
    c.activation = "relu"
    c.num_critics = 2
    c.log_std_min = -5.0
    c.log_std_max = 2.0
    return c


def _fail(field: str, value, allowed: str):
    raise ValueError(f"config.{field}={value!r} is invalid: {allowed}")


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming the first bad field; unknown fields are errors, not ignored."""
    known = set(default_config().keys())
    unknown = sorted(set(config.keys()) - known)
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; known fields: {sorted(known)}")
    positive_ints = (
        "total_steps", "eval_interval", "eval_episodes", "log_interval",
        "checkpoint_interval", "keep_checkpoints",
        "batch_size", "buffer_size", "updates_per_step", "num_critics",
    )  # fmt: skip
    for field in positive_ints:
        value = config[field]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            _fail(field, value, "must be a positive integer")
    if not isinstance(config.checkpoint_buffer, bool):
        _fail("checkpoint_buffer", config.checkpoint_buffer, "must be True or False")
    if not isinstance(config.seed, int) or config.seed < 0:
        _fail("seed", config.seed, "must be a non-negative integer")
    if config.learning_starts < 1:
        _fail("learning_starts", config.learning_starts, "must be >= 1 (the first batch needs data)")
    if config.batch_size > config.buffer_size:
        _fail("batch_size", config.batch_size, f"must be <= buffer_size ({config.buffer_size})")
    if not 0.0 < config.tau <= 1.0:
        _fail("tau", config.tau, "must be in (0, 1]")
    if not 0.0 <= config.gamma < 1.0:
        _fail("gamma", config.gamma, "must be in [0, 1)")
    for field in ("actor_lr", "critic_lr", "alpha_lr", "init_alpha"):
        if not config[field] > 0.0:
            _fail(field, config[field], "must be > 0")
    if not config.hidden_dims or any(int(w) <= 0 for w in config.hidden_dims):
        _fail("hidden_dims", config.hidden_dims, "must be a non-empty sequence of positive widths")
    if config.activation not in ACTIVATIONS:
        _fail("activation", config.activation, f"must be one of {sorted(ACTIVATIONS)}")
    if not config.log_std_min < config.log_std_max:
        _fail("log_std_min", config.log_std_min, f"must be < log_std_max ({config.log_std_max})")
