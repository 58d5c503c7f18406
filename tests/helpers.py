"""Helpers shared by the test modules (no test module imports another)."""

import os
import socket
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np

from sac_jax import Batch
from sac_jax.checkpointing import Checkpointer
from sac_jax.envs import env_dims, make_env
from sac_jax.loop_state import LoopState
from sac_jax.replay import ReplayBuffer
from sac_jax.session import restore_trial, save_trial
from sac_jax.state import create_state
from tests.tiny import tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBPROCESS_ENV = {
    **os.environ,
    "PYTHONPATH": REPO,
    "SDL_VIDEODRIVER": "dummy",
    "JAX_PLATFORMS": "cpu",
}
OBS_DIM, ACTION_DIM = 3, 2  # of `make_batch`


def run_python(script: str, env: dict) -> str:
    """Run `script` in a fresh Python (e.g. with other XLA flags); its stdout."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def run_cli(*args: str, input: str | None = None, timeout: int = 600):
    """`python ARGS` run from the repository root, as a user runs train.py or a sac_jax module;
    the CompletedProcess, with text stdout and stderr."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=SUBPROCESS_ENV,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(condition, hang_after: float = 900.0):
    """Poll `condition` until it returns something true, and return that. The limit only turns a
    hang into a failure; it is far above any healthy wait, so a slow machine does not fail."""
    deadline = time.monotonic() + hang_after
    while not (value := condition()):
        assert time.monotonic() < deadline, f"still waiting after {hang_after:.0f} s: a hang"
        time.sleep(0.2)
    return value


def make_batch(seed: int, size: int = 32) -> Batch:
    rng = np.random.default_rng(seed)
    return Batch(
        obs=rng.normal(size=(size, OBS_DIM)).astype(np.float32),
        action=rng.uniform(-1, 1, size=(size, ACTION_DIM)).astype(np.float32),
        reward=rng.normal(size=size).astype(np.float32),
        next_obs=rng.normal(size=(size, OBS_DIM)).astype(np.float32),
        terminated=(rng.uniform(size=size) < 0.1).astype(np.float32),
    )


def small_config(**overrides):
    # Checkpoint at 150: mid-episode (Pendulum episodes are 200 steps).
    defaults = dict(eval_interval=100, log_interval=50, checkpoint_interval=150)
    return tiny_config(**{**defaults, **overrides})


def fresh_run(config):
    """What a session builds for one trial before restoring: env (reset), state, loop state, buffer."""
    env = make_env(config.env_id, config.seed)
    obs_dim, action_dim = env_dims(env)
    run = LoopState(
        obs=env.reset(seed=config.seed)[0],
        random_actions=np.random.default_rng(config.seed),
        update_start=config.learning_starts,
    )
    buffer = ReplayBuffer(config.buffer_size, obs_dim, action_dim, seed=config.seed)
    return env, create_state(config, obs_dim, action_dim), run, buffer


def restore(workdir, config, step=None):
    """One trial's folder restored as a resuming run restores it: its latest checkpoint, or `step`.
    A folder without checkpoints fails, so comparing two restored states cannot pass vacuously."""
    env, state, run, buffer = fresh_run(config)
    with Checkpointer(workdir, config.keep_checkpoints) as ckpt:
        step = ckpt.latest_step() if step is None else step
        assert step is not None, f"no checkpoint in {workdir}"
        state = restore_trial(ckpt, config, state, run, env, buffer, step)
    return env, state, run, buffer


def save(workdir, config, state, run, env, buffer):
    with Checkpointer(workdir, config.keep_checkpoints) as ckpt:
        save_trial(ckpt, config, state, run, env, buffer)


def assert_trees_identical(a, b):
    """Same leaf paths, and each leaf equal in dtype, shape and every value.

    (Treedefs are not compared: two `create_state` calls already differ in their static optax
    closures.)
    """
    leaves_a, _ = jax.tree_util.tree_flatten_with_path(a)
    leaves_b, _ = jax.tree_util.tree_flatten_with_path(b)
    assert [path for path, _ in leaves_a] == [path for path, _ in leaves_b]
    for (_, x), (_, y) in zip(leaves_a, leaves_b):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


def assert_trees_close(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-6)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_in_two_processes(
    tmp_path, workdir: str, total_steps: int, env=SUBPROCESS_ENV, **overrides
) -> list[str]:
    """train.py --distributed in two local CPU processes (one device each) on seeds 3 and 4 of the
    small config (with `overrides`); returns each process's stdout."""
    config_file = tmp_path / f"two_seeds_{total_steps}.py"
    config_file.write_text(
        textwrap.dedent(f"""
        from tests.helpers import small_config

        def get_config():
            return small_config(seed=3, num_seeds=2, total_steps={total_steps}, **{overrides!r})
    """)
    )
    address = f"127.0.0.1:{free_port()}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "train.py",
                f"--config={config_file}",
                f"--workdir={workdir}",
                "--compilation_cache_dir=",
                "--distributed",
                f"--coordinator_address={address}",
                "--num_processes=2",
                f"--process_id={p}",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(2)
    ]
    try:
        outs = [proc.communicate(timeout=600) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    for proc, (_, stderr) in zip(procs, outs):
        assert proc.returncode == 0, stderr[-3000:]
    return [stdout for stdout, _ in outs]
