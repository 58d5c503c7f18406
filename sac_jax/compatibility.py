"""Whether a checkpoint fits the run that wants to resume from it: the same env sizes, and a
config that differs only in fields a resumed run may change."""

from sac_jax import config as config_lib
from sac_jax.checkpointing import CheckpointError
from sac_jax.envs import env_info

# Fields a resumed run may change; any other difference from the checkpoint's config is an error.
RESUMABLE_FIELDS = frozenset(
    "total_steps eval_interval eval_episodes bias_episodes log_interval checkpoint_interval "
    "keep_checkpoints checkpoint_buffer shard wandb_project wandb_entity".split()
)


def check_compatible(where: str, saved_env: dict, saved: dict, env, config) -> None:
    """Refuse a checkpoint saved for another env or config, before anything is restored."""
    now = env_info(env)
    if (saved_env["obs_dim"], saved_env["action_dim"]) != (now["obs_dim"], now["action_dim"]):
        raise CheckpointError(
            f"{where} was saved for {saved_env['env_id']} (obs size {saved_env['obs_dim']}, action "
            f"size {saved_env['action_dim']}), but this run's env {now['env_id']} has obs size "
            f"{now['obs_dim']} and action size {now['action_dim']}. Use another --workdir."
        )
    current = config_lib.to_json(config)
    saved = config_lib.to_json(config_lib.from_json(saved))  # fields added since: defaults
    changed = sorted(
        f
        for f in set(current) | set(saved)
        if f not in RESUMABLE_FIELDS and current.get(f) != saved.get(f)
    )
    if changed:
        diffs = ", ".join(f"{f}: saved {saved.get(f)!r}, now {current.get(f)!r}" for f in changed)
        raise CheckpointError(
            f"{where} was saved with a different config ({diffs}). A resumed run may change only "
            f"{sorted(RESUMABLE_FIELDS)}; use the checkpoint's values or another --workdir."
        )
    if config.lr_schedule != "constant" and current["total_steps"] != saved["total_steps"]:
        raise CheckpointError(
            f"{where} was saved with lr_schedule={config.lr_schedule!r}, which decays the learning "
            f"rates to 0 over total_steps={saved['total_steps']}; a resumed run cannot change "
            f"total_steps (now {current['total_steps']}) without changing its schedule. Resume "
            "with the saved total_steps, or start a new --workdir."
        )
