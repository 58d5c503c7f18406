"""sac_jax: Soft Actor-Critic as pure, jitted functions over one train-state pytree."""

from sac_jax.acting import select_action
from sac_jax.batch_renorm import BatchRenorm
from sac_jax.config import default_config, validate
from sac_jax.exported import load_exported
from sac_jax.losses import (
    actor_loss,
    backup_value,
    critic_loss,
    critic_target,
    critic_values,
    joint_critic_loss,
    periodic_copy,
    polyak_update,
    quantile_huber_loss,
    soft_backup,
    temperature_loss,
    truncated_mixture,
)
from sac_jax.normalization import RunningStats, normalize, update_stats
from sac_jax.policy import Policy, load_policy
from sac_jax.replay import ReplayBuffer
from sac_jax.state import (
    BatchStatsTrainState,
    SACHParams,
    SACScalars,
    SACState,
    create_state,
    training_pass,
    variables,
)
from sac_jax.types import Batch
from sac_jax.update import (
    make_update_steps,
    normalize_batch,
    sac_step,
    update_actor,
    update_critic,
    update_critic_jointly,
    update_step,
    update_steps,
    update_target,
    update_temperature,
)

__all__ = [
    "Batch",
    "BatchRenorm",
    "BatchStatsTrainState",
    "Policy",
    "ReplayBuffer",
    "RunningStats",
    "SACHParams",
    "SACScalars",
    "SACState",
    "actor_loss",
    "backup_value",
    "create_state",
    "critic_loss",
    "critic_target",
    "critic_values",
    "joint_critic_loss",
    "default_config",
    "load_exported",
    "load_policy",
    "make_update_steps",
    "normalize",
    "normalize_batch",
    "periodic_copy",
    "polyak_update",
    "quantile_huber_loss",
    "sac_step",
    "select_action",
    "soft_backup",
    "temperature_loss",
    "training_pass",
    "truncated_mixture",
    "update_actor",
    "update_critic",
    "update_critic_jointly",
    "update_step",
    "update_steps",
    "update_stats",
    "update_target",
    "update_temperature",
    "validate",
    "variables",
]
