"""The on-disk contract of a training run: every path a run writes or reads is named here.

    WORKDIR/
      config.json                the resolved config (of all trials)
      launches.jsonl             each start and resume: code commit, versions, machine
      .lock                      held while a run trains here
      train.csv, eval.csv, events.out.tfevents.*    logs, one row per trial
      curves.png                 the eval returns so far, redrawn after every evaluation
      checkpoints/STEP/          with one trial
      TRIAL/checkpoints/STEP/    with several (TRIAL: seed3, or critic_lr=0.001,seed3 in a sweep)
      processP/                  logs and lock of process P when several processes train the run
      wandb/                     W&B's own files, with config.wandb_project set (sac_jax.wandb_log)

Nothing else in the package spells out a file or folder name of a run.
"""

import fcntl
import glob
import itertools
import os
import time

from sac_jax.sweep import run_name

CONFIG = "config.json"
LAUNCHES = "launches.jsonl"
TRAIN_CSV, EVAL_CSV = "train.csv", "eval.csv"
CSV_LOGS = (TRAIN_CSV, EVAL_CSV)
CURVES = "curves.png"
TB_EVENTS = "events.out.tfevents.*"
TRIAL_DIRS = (
    "*seed*"  # the trial folders of a workdir with several trials (their names end in seedS)
)


def default_workdir(config) -> str:
    """runs/ENV_NAME_TIME, e.g. runs/Humanoid-v5_seed0_20260101-120000 (names: `sweep.run_name`)."""
    name = f"{config.env_id}_{run_name(config)}_{time.strftime('%Y%m%d-%H%M%S')}"
    return os.path.join("runs", name)


def checkpoint_dir(run_dir: str) -> str:
    """Where one trial's Orbax checkpoints live."""
    return os.path.join(os.path.abspath(run_dir), "checkpoints")


def _holds_a_step(folder: str) -> bool:
    """Whether a checkpoints/ folder holds a saved step (a run that has not saved yet leaves it
    empty, a killed save leaves a temporary folder)."""
    return os.path.isdir(folder) and any(name.isdigit() for name in os.listdir(folder))


def has_checkpoint(run_dir: str) -> bool:
    """Whether one trial's run folder holds a saved step."""
    return _holds_a_step(checkpoint_dir(run_dir))


def trial_dir(workdir: str, trial_name: str, num_trials: int) -> str:
    """The folder of one trial's checkpoints: the workdir itself when it trains one trial."""
    return workdir if num_trials == 1 else os.path.join(workdir, trial_name)


def saved_layout(workdir: str) -> str | None:
    """'single' or 'multi' when the workdir holds one trial's or several trials' saved steps
    (empty checkpoint folders, of a run stopped before its first save, do not count)."""
    if has_checkpoint(workdir):
        return "single"
    if trials_have_saved(workdir):
        return "multi"
    return None


def trials_have_saved(workdir: str) -> bool:
    """Whether any trial folder of the workdir holds a saved step (not only an empty folder, as a
    run that has not saved yet, or another process of it, leaves)."""
    return any(map(_holds_a_step, glob.glob(os.path.join(workdir, TRIAL_DIRS, "checkpoints"))))


def process_dir(workdir: str, process: int) -> str:
    """WORKDIR/processP/: where process P of a multi-process run logs, so rows never interleave."""
    return os.path.join(workdir, f"process{process}")


def process_dirs(workdir: str, num_processes: int) -> list[str]:
    """Each process's log folder, in process order: the workdir itself with one process."""
    if num_processes == 1:
        return [workdir]
    return [process_dir(workdir, p) for p in range(num_processes)]


def log_dirs(workdir: str) -> list[str]:
    """WORKDIR, then its processP/ folders: everywhere a run's logs may be, since a resumed run may
    use another process count than the one that started it."""
    processes = (process_dir(workdir, p) for p in itertools.count())
    return [workdir, *itertools.takewhile(os.path.isdir, processes)]


def log_files(workdir: str, name: str) -> list[str]:
    """The `name` files (one of CSV_LOGS) that exist in `log_dirs(workdir)`."""
    return [path for d in log_dirs(workdir) if os.path.exists(path := os.path.join(d, name))]


def has_tb_events(log_dir: str) -> bool:
    return bool(glob.glob(os.path.join(log_dir, TB_EVENTS)))


def write_config(workdir: str, config_json: str) -> None:
    with open(os.path.join(workdir, CONFIG), "w") as f:
        f.write(config_json)


def config_path(run_dir: str) -> str:
    return os.path.join(run_dir, CONFIG)


class WorkdirError(RuntimeError):
    """The workdir cannot be used: it cannot be created or written, or another run holds it."""


class WorkdirLockedError(WorkdirError):
    """Another live process is training in the same workdir."""


class WorkdirLock:
    """An exclusive `flock` on WORKDIR/.lock, held for the whole run; with `shared`, a shared one,
    which the processes of one `--distributed` run hold together and a one-process run cannot take.

    The kernel drops the lock when its holder dies (even by kill -9), so a stale lock file left by
    a dead process never blocks; the pid inside (an exclusive holder's) is only for the error
    message.
    """

    def __init__(self, workdir: str, shared: bool = False):
        self.path = os.path.join(workdir, ".lock")
        self.shared = shared
        self.file = None

    def __enter__(self):
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.file = open(self.path, "a+")
        except OSError as e:
            raise WorkdirError(
                f"workdir {os.path.dirname(self.path)!r} cannot be created or written "
                f"({type(e).__name__}: {e}); pass a writable --workdir"
            ) from e
        try:
            fcntl.flock(
                self.file, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
            )
        except BlockingIOError:
            self.file.seek(0)
            pid = self.file.read().strip()
            self.file.close()
            holder = f"pid {pid}" if pid else "the processes of a --distributed run"
            raise WorkdirLockedError(
                f"workdir {os.path.dirname(self.path)!r} is in use by another training run "
                f"({holder}, lock {self.path}); wait for it to finish, stop it, or use another "
                "--workdir"
            ) from None
        self.file.truncate(0)
        if not self.shared:
            self.file.write(str(os.getpid()))
            self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.close()  # releases the flock
