"""Train SAC: python train.py --config configs/humanoid.py [--workdir DIR] [--config.FIELD=VALUE]."""

import os
import sys

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from sac_jax.checkpointing import CheckpointError
from sac_jax.config import ConfigError
from sac_jax.health import NonFiniteError
from sac_jax.loop import train
from sac_jax.workdir import WorkdirError, default_workdir

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Path to a config file.", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (default: runs/ENV_seedS_TIME).")
_CACHE = flags.DEFINE_string(
    "compilation_cache_dir",
    os.path.join(os.path.expanduser("~"), ".cache", "sac_jax", "xla"),
    "JAX persistent compilation cache: a second run loads its compiled updates instead of "
    "recompiling them. Empty string disables it.",
)
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed",
    False,
    "Several processes (hosts) train one run: call jax.distributed.initialize first, with the three "
    "flags below; any left unset JAX detects (SLURM, Open MPI, JAX_COORDINATOR_ADDRESS, ...). Each "
    "process trains its block of the seeds (docs/scaling.md).",
)
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "host:port of process 0.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in the run.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index, 0..num_processes-1.")
flags.mark_flags_as_required(["config"])
flags.register_multi_flags_validator(
    ["distributed", "coordinator_address", "num_processes", "process_id"],
    lambda f: f["distributed"] or all(v is None for k, v in f.items() if k != "distributed"),
    "--coordinator_address, --num_processes and --process_id take effect only with --distributed",
)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    if _DISTRIBUTED.value:
        jax.distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
    if _CACHE.value:
        jax.config.update("jax_compilation_cache_dir", _CACHE.value)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    config = _CONFIG.value
    workdir = _WORKDIR.value or default_workdir(config)
    try:
        train(config, workdir)
    except (ConfigError, CheckpointError, NonFiniteError, WorkdirError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    app.run(main)
