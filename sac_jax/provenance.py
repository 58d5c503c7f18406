"""What trained a run: the code commit, the package versions and the machine of each start and
resume, one JSON line apiece in WORKDIR/launches.jsonl, so a result can name them."""

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys

from sac_jax.workdir import LAUNCHES

PACKAGES = (
    "sac_jax",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "distrax",
    "orbax-checkpoint",
    "gymnasium",
    "mujoco",
    "numpy",
)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit() -> tuple[str | None, bool]:
    """The commit of the git checkout sac_jax is imported from, and whether tracked files differ
    from it; (None, False) for an installed copy or without git."""
    here = os.path.dirname(os.path.abspath(__file__))

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", here, *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None, False
    return commit, dirty


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_launch(start_step: int) -> dict:
    """This process's launch: the step it starts from, the time (UTC), its command line, the code
    commit, the package versions and the machine."""
    import jax  # only when training: tabulating launches needs no JAX

    commit, dirty = git_commit()
    return {
        "step": start_step,
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv,
        "commit": commit,
        "dirty": dirty,
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in PACKAGES},
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "devices": sorted({d.device_kind for d in jax.devices()}),
        "processes": jax.process_count(),
    }


def record_launch(workdir: str, start_step: int) -> None:
    with open(os.path.join(workdir, LAUNCHES), "a") as f:
        f.write(json.dumps(describe_launch(start_step)) + "\n")


def read_launches(workdir: str) -> list[dict]:
    """The run's launches in order; empty for a run that predates launches.jsonl."""
    path = os.path.join(workdir, LAUNCHES)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
