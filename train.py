"""Train SAC: python train.py --config configs/humanoid.py [--workdir DIR] [--config.FIELD=VALUE]."""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from sac_jax.checkpointing import CheckpointError, WorkdirLockedError
from sac_jax.loop import default_workdir, train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (default: runs/ENV_seedS_TIME).")
flags.mark_flags_as_required(["config"])


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    config = _CONFIG.value
    workdir = _WORKDIR.value or default_workdir(config)
    try:
        train(config, workdir)
    except (CheckpointError, WorkdirLockedError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    app.run(main)
