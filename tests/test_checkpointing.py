"""Checkpoints: round trip, exact resume, signals, interrupted saves, the lock, bad input, evaluate.

One tiny Pendulum run (`trained`) is shared by the module; tests that change a workdir copy it.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from gymnasium.envs.classic_control.pendulum import PendulumEnv
from PIL import Image

from sac_jax import evaluate as evaluate_cli
from sac_jax import load_policy, loop, select_action, update_step
from sac_jax.checkpointing import Checkpointer, CheckpointError
from sac_jax.envs import env_state, make_env, set_env_state
from sac_jax.session import save_trial
from sac_jax.workdir import WorkdirLock, WorkdirLockedError
from tests.helpers import (
    REPO,
    SUBPROCESS_ENV,
    assert_trees_close,
    assert_trees_identical,
    fresh_run,
    restore,
    run_cli,
    save,
    small_config,
    wait_for,
)
from tests.tiny import tiny_config


def read_csv(workdir, name):
    with open(os.path.join(workdir, name)) as f:
        return [line.strip().split(",") for line in f.readlines()[1:]]


def files(workdir):
    """Every file under checkpoints/ with its size and mtime: to prove nothing was touched."""
    root = os.path.join(workdir, "checkpoints")
    paths = [os.path.join(d, name) for d, _, names in os.walk(root) for name in names]
    return {os.path.relpath(p, root): (os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 300-step run with checkpoints at 150 (mid-episode) and 300."""
    workdir = str(tmp_path_factory.mktemp("trained"))
    loop.train(small_config(), workdir, quiet=True)
    return workdir


@pytest.fixture
def trained_copy(trained, tmp_path):
    workdir = str(tmp_path / "copy")
    shutil.copytree(trained, workdir)
    return workdir


def test_round_trip_restores_every_leaf_action_and_next_update(tmp_path):
    config = small_config()
    env, state, run, buffer = fresh_run(config)
    for _ in range(60):  # a partial episode in the buffer and env
        action = run.random_actions.uniform(-1, 1, 1).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(run.obs, action, reward, terminated, truncated, next_obs)
        run.obs, run.step = next_obs, run.step + 1
    batch = buffer.sample(config.batch_size)
    for _ in range(2):
        state, _ = update_step(state, batch)
    save(str(tmp_path), config, state, run, env, buffer)

    env2, restored, run2, buffer2 = restore(str(tmp_path), config)
    assert_trees_identical(state, restored)
    obs = run.obs.astype(np.float32)
    np.testing.assert_array_equal(
        select_action(state.actor, obs), select_action(restored.actor, obs)
    )
    assert_trees_identical(update_step(state, batch), update_step(restored, batch))
    # The host side continues identically too: loop counters, buffer, RNGs, env episode.
    assert (run2.step, run2.obs.dtype) == (run.step, run.obs.dtype)
    np.testing.assert_array_equal(run2.obs, run.obs)
    assert_trees_identical(buffer.state_dict(), buffer2.state_dict())
    assert_trees_identical(buffer.sample(32), buffer2.sample(32))
    assert run.random_actions.uniform() == run2.random_actions.uniform()
    action = np.ones(1, np.float32)
    assert_trees_identical(env.step(action)[:4], env2.step(action)[:4])


def test_keeps_latest_k_plus_best(tmp_path):
    config = small_config(keep_checkpoints=1)
    env, state, run, buffer = fresh_run(config)
    with Checkpointer(str(tmp_path), config.keep_checkpoints) as ckpt:
        for step, eval_return in [(1, -100.0), (2, -500.0), (3, None)]:
            run.step = step
            run.eval_step = step if eval_return else None
            run.last_eval = {"return_mean": eval_return} if eval_return else {}
            save_trial(ckpt, config, state, run, env, buffer)
        assert sorted(ckpt.manager.all_steps()) == [1, 3]
        assert ckpt.best_step() == 1


def test_exact_resume(trained, tmp_path):
    """300 steps straight == 150 steps, stopped mid-episode, resumed to 300: identical params."""
    workdir = str(tmp_path)
    loop.train(small_config(total_steps=150), workdir, quiet=True)
    loop.train(small_config(total_steps=300), workdir, quiet=True)
    assert_trees_identical(restore(trained, small_config())[1], restore(workdir, small_config())[1])
    straight, resumed = read_csv(trained, "eval.csv"), read_csv(workdir, "eval.csv")
    assert [row[0] for row in resumed] == ["100", "150", "200", "300"]  # 150: the first run's end
    assert [row for row in resumed if row[0] != "150"] == straight
    assert [row[0] for row in read_csv(workdir, "train.csv")] == [
        str(s) for s in range(50, 301, 50)
    ]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_then_resume_is_exact(signum, trained, tmp_path, monkeypatch, capsys):
    workdir = str(tmp_path)
    real_evaluate = loop.evaluate

    def evaluate_then_signal(*args, **kwargs):  # at step 100, the first evaluation
        os.kill(os.getpid(), signum)
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", evaluate_then_signal)
    with pytest.raises(SystemExit) as exit_info:
        loop.train(small_config(), workdir)
    assert exit_info.value.code == 128 + signum
    assert f"To resume, run the same command with --workdir {workdir}" in capsys.readouterr().out
    assert Checkpointer(workdir).latest_step() == 100
    monkeypatch.setattr(loop, "evaluate", real_evaluate)  # resuming the interrupted run is exact
    loop.train(small_config(), workdir, quiet=True)
    assert_trees_identical(restore(trained, small_config())[1], restore(workdir, small_config())[1])


def test_kill_during_save_keeps_previous_checkpoint(trained_copy, tmp_path):
    """SIGKILL while Orbax writes step 400: steps 150 and 300 stay intact and restorable."""
    marker = str(tmp_path / "saving")
    script = textwrap.dedent(f"""
        import time
        import orbax.checkpoint as ocp
        from tests.helpers import restore, save, small_config

        handler = ocp.handlers.JsonCheckpointHandler
        write = handler._save_fn
        async def write_then_hang(self, x, directory):
            await write(self, x, directory)
            open({marker!r}, "w").close()
            time.sleep(600)
        handler._save_fn = write_then_hang

        env, state, run, buffer = restore({trained_copy!r}, small_config())
        run.step = 400
        save({trained_copy!r}, small_config(), state, run, env, buffer)
    """)
    before = files(trained_copy)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=SUBPROCESS_ENV)
    try:
        wait_for(lambda: os.path.exists(marker) or proc.poll() is not None)
        assert proc.poll() is None, "the saving process ended before its save started"
    finally:
        proc.kill()
        proc.wait()
    leftovers = [f for f in os.listdir(os.path.join(trained_copy, "checkpoints")) if "tmp" in f]
    assert leftovers, "expected a half-written temporary checkpoint directory"
    assert all(files(trained_copy).get(f) == v for f, v in before.items())
    assert Checkpointer(trained_copy).latest_step() == 300
    assert load_policy(trained_copy).step == 300
    with Checkpointer(
        trained_copy, small_config().keep_checkpoints
    ):  # a resuming run removes the leftover (Orbax cleans up in a background thread)
        wait_for(lambda: len(os.listdir(os.path.join(trained_copy, "checkpoints"))) <= 2)
    assert sorted(os.listdir(os.path.join(trained_copy, "checkpoints"))) == ["150", "300"]


def test_lock_refuses_second_run_and_ignores_dead_holder(tmp_path):
    workdir = str(tmp_path)
    script = textwrap.dedent(f"""
        import time
        from sac_jax.workdir import WorkdirLock
        with WorkdirLock({workdir!r}):
            print("locked", flush=True)
            time.sleep(600)
    """)
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=SUBPROCESS_ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WorkdirLockedError, match=f"pid {holder.pid}"):
            loop.train(small_config(), workdir, quiet=True)
    finally:
        holder.kill()  # kill -9: the lock file stays behind with a dead pid in it
        holder.wait()
    with open(os.path.join(workdir, ".lock")) as f:
        assert f.read() == str(holder.pid)
    with WorkdirLock(workdir):
        with pytest.raises(WorkdirLockedError, match=f"pid {os.getpid()}"):
            WorkdirLock(workdir).__enter__()


def test_a_distributed_run_and_a_one_process_run_lock_each_other_out(tmp_path):
    """The processes of a `--distributed` run share the workdir's lock; a one-process run needs it
    alone."""
    workdir = str(tmp_path)
    with WorkdirLock(workdir, shared=True), WorkdirLock(workdir, shared=True):
        with pytest.raises(
            WorkdirLockedError, match=r"\(the processes of a --distributed run, lock"
        ):
            WorkdirLock(workdir).__enter__()
    with WorkdirLock(workdir):
        with pytest.raises(WorkdirLockedError, match=f"pid {os.getpid()}"):
            WorkdirLock(workdir, shared=True).__enter__()


def evaluate_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.main(argv)
    assert exit_info.value.code not in (0, None)
    return f"{exit_info.value.code} {capsys.readouterr().err}"


def test_evaluate_missing_or_empty_workdir(tmp_path, capsys):
    assert "does not exist" in evaluate_error(["--workdir", str(tmp_path / "nope")], capsys)
    assert "has no checkpoints" in evaluate_error(["--workdir", str(tmp_path)], capsys)
    assert not os.path.exists(tmp_path / "checkpoints")


def test_evaluate_missing_step(trained, capsys):
    assert "no checkpoint at step 7" in evaluate_error(
        ["--workdir", trained, "--step", "7"], capsys
    )


@pytest.mark.parametrize("damage", ["corrupted", "partial"])
def test_damaged_checkpoint_is_an_error_and_left_alone(damage, trained_copy, capsys):
    step_dir = os.path.join(trained_copy, "checkpoints", "300")
    if damage == "corrupted":  # garbage in every array file
        for d, _, names in os.walk(os.path.join(step_dir, "state")):
            for name in names:
                with open(os.path.join(d, name), "wb") as f:
                    f.write(b"\x00garbage")
    else:  # an item missing
        shutil.rmtree(os.path.join(step_dir, "loop"))
    before = files(trained_copy)
    assert "cannot be read" in evaluate_error(["--workdir", trained_copy], capsys)
    with pytest.raises(CheckpointError, match="checkpoints/300 cannot be read"):
        loop.train(small_config(total_steps=400), trained_copy, quiet=True)
    assert files(trained_copy) == before


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"env_id": "MountainCarContinuous-v0"}, "obs size 3.*obs size 2"),
        ({"hidden_dims": (64, 64)}, "different config.*hidden_dims"),
    ],
)
def test_incompatible_run_is_an_error_and_left_alone(overrides, message, trained_copy):
    before = files(trained_copy)
    with open(os.path.join(trained_copy, "config.json")) as f:
        config_json = f.read()
    with pytest.raises(CheckpointError, match=message):
        loop.train(small_config(total_steps=400, **overrides), trained_copy, quiet=True)
    assert files(trained_copy) == before
    with open(os.path.join(trained_copy, "config.json")) as f:
        assert f.read() == config_json


def test_train_cli_exits_nonzero_on_incompatible_checkpoint(trained_copy):
    result = run_cli(
        "train.py", "--config", "configs/pendulum.py", "--workdir", trained_copy, timeout=300
    )
    assert result.returncode != 0
    assert "error: checkpoint" in result.stderr and "different config" in result.stderr


def test_load_policy_acts_in_env_bounds(trained):
    _, state, _, _ = restore(trained, small_config())
    policy = load_policy(trained)
    obs = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -3.0]], np.float32)
    expected = 2.0 * np.asarray(select_action(state.actor, obs))  # Pendulum: torque in [-2, 2]
    np.testing.assert_allclose(policy(obs), expected, rtol=1e-6)
    sampled = policy(obs, deterministic=False)
    assert sampled.shape == (2, 1) and np.all(np.abs(sampled) <= 2.0)
    assert policy.step == 300 and policy.env_id == "Pendulum-v1"


def test_evaluate_cli_prints_returns_and_writes_video(trained, tmp_path):
    video = str(tmp_path / "pendulum.gif")
    result = run_cli(
        "-m",
        "sac_jax.evaluate",
        "--workdir",
        trained,
        "--episodes",
        "2",
        "--video",
        video,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "read only" not in result.stderr  # Orbax's notice of a read-only open is not shown
    assert "checkpoint step 300: return" in result.stdout
    assert "over 2 deterministic episodes" in result.stdout
    assert "(201 frames)" in result.stdout  # the reset frame and one per step of a 200-step episode
    with Image.open(video) as gif:  # (Pillow may merge identical consecutive frames)
        assert gif.n_frames > 100 and gif.size == (500, 500)


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "Hopper-v5", "Humanoid-v5"])
def test_env_episode_state_continues_identically(env_id):
    original, copy = make_env(env_id, 0), make_env(env_id, 0)
    original.reset(seed=0)
    copy.reset(seed=1)
    actions = np.random.default_rng(0).uniform(-1, 1, (40,) + original.action_space.shape)
    for action in actions[:20]:
        original.step(action)
    set_env_state(copy, json.loads(json.dumps(env_state(original))))
    for action in actions[20:]:
        assert_trees_identical(original.step(action)[:4], copy.step(action)[:4])


class GoalPendulum(PendulumEnv):
    """A user's env with episode state beyond gymnasium's Pendulum: a goal drawn at reset."""

    def reset(self, **kwargs):
        self.goal = self.np_random.uniform(-1, 1)
        return super().reset(**kwargs)


def test_envs_defined_outside_gymnasium_are_not_captured():
    env = GoalPendulum()
    env.reset(seed=0)
    assert env_state(env) is None
    pendulum = make_env("Pendulum-v1", 0)
    pendulum.reset(seed=0)
    assert env_state(pendulum) is not None


def test_resume_in_env_without_captured_state_starts_a_new_episode(tmp_path):
    """LunarLander's Box2D world is not captured: the episode in progress ends at the checkpoint."""
    config = small_config(env_id="LunarLanderContinuous-v3")
    env, state, run, buffer = fresh_run(config)
    for _ in range(20):
        action = run.random_actions.uniform(-1, 1, 2).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(run.obs, action, reward, terminated, truncated, next_obs)
        run.obs, run.step, run.episode_return = next_obs, run.step + 1, run.episode_return + reward
    save(str(tmp_path), config, state, run, env, buffer)
    _, _, run2, buffer2 = restore(str(tmp_path), config)
    assert run2.step == 20 and run2.episode_return == 0.0
    assert buffer2.ptr == buffer.ptr + 1 and len(buffer2) == len(buffer) == 20
    assert not np.array_equal(run2.obs, run.obs)


def test_normalized_run_restores_its_obs_stats_for_load_policy(tmp_path):
    """A run with normalize_obs checkpoints its statistics; load_policy acts with them."""
    config = small_config(normalize_obs=True, total_steps=1200, checkpoint_interval=1200)
    workdir = str(tmp_path / "norm")
    loop.train(config, workdir, quiet=True)
    _, state, _, _ = restore(workdir, config)
    assert float(state.obs_stats.count) == 1000.0  # one merge, at step 1000
    policy = load_policy(workdir)
    obs = np.array([[1.0, 0.0, 0.5]], np.float32)
    expected = 2.0 * np.asarray(select_action(state.actor, obs, None, state.obs_stats))
    np.testing.assert_allclose(policy(obs), expected, rtol=1e-6)
    assert not np.allclose(expected, 2.0 * np.asarray(select_action(state.actor, obs)))


FIXTURE = os.path.join(REPO, "tests", "data", "checkpoint_v0")


@pytest.mark.parametrize("name, num_seeds", [("single", 1), ("two_seeds", 2)])
def test_checkpoint_from_before_the_host_redesign_resumes(name, num_seeds, tmp_path):
    """tests/data/checkpoint_v0 holds 300-step runs saved by the code before the host-side
    redesign, and the states that code reached when it resumed them to 400 steps (on one machine
    they are bit-identical; the tolerance covers XLA's CPU kernels on other processors)."""
    workdir = str(tmp_path / name)
    shutil.copytree(os.path.join(FIXTURE, name), workdir)
    loop.train(
        tiny_config(total_steps=400, checkpoint_interval=300, num_seeds=num_seeds),
        workdir,
        quiet=True,
    )
    expected = np.load(os.path.join(FIXTURE, f"{name}_step400.npz"))
    for seed in range(num_seeds):
        run_dir = workdir if num_seeds == 1 else os.path.join(workdir, f"seed{seed}")
        config = tiny_config(total_steps=400, checkpoint_interval=300, seed=seed)
        _, state, run, _ = restore(run_dir, config)
        assert run.step == 400
        leaves = jax.tree_util.tree_flatten_with_path(state)[0]
        got = {f"seed{seed}{jax.tree_util.keystr(path)}": leaf for path, leaf in leaves}
        assert set(got) == {k for k in expected.files if k.startswith(f"seed{seed}.")}
        assert_trees_close(got, {k: expected[k] for k in got})


def test_decaying_learning_rate_refuses_a_new_total_steps(tmp_path):
    """The linear schedule's horizon is the first start's total_steps; a resume may not move it."""
    workdir = str(tmp_path)
    loop.train(small_config(lr_schedule="linear", total_steps=150), workdir, quiet=True)
    before = files(workdir)
    with pytest.raises(CheckpointError, match="lr_schedule='linear'.*total_steps=150.*now 300"):
        loop.train(small_config(lr_schedule="linear", total_steps=300), workdir, quiet=True)
    assert files(workdir) == before
    (result,) = loop.train(small_config(lr_schedule="linear", total_steps=150), workdir, quiet=True)
    assert result["seed"] == 0 and np.isfinite(result["return_mean"])


def test_mujoco_videos_follow_the_body_through_the_track_camera():
    """Hopper-v5's model has a "track" camera, which the renderer then uses; Pendulum (no MuJoCo
    renderer) is left alone."""
    import mujoco

    hopper = make_env("Hopper-v5", 0, "rgb_array")
    evaluate_cli.follow_the_body(hopper)
    renderer = hopper.unwrapped.mujoco_renderer
    track = mujoco.mj_name2id(renderer.model, mujoco.mjtObj.mjOBJ_CAMERA, "track")
    assert track >= 0 and renderer.camera_id == track
    hopper.close()
    pendulum = make_env("Pendulum-v1", 0, "rgb_array")
    evaluate_cli.follow_the_body(pendulum)
    assert not hasattr(pendulum.unwrapped, "mujoco_renderer")


def test_video_keeps_every_nth_frame_at_a_smaller_size(tmp_path):
    frames = [np.full((100, 60, 3), i, np.uint8) for i in range(10)]
    path = str(tmp_path / "small.gif")
    evaluate_cli.write_video(path, frames, fps=50, every=2, scale=0.5)
    with Image.open(path) as gif:
        assert gif.size == (30, 50) and gif.n_frames == 5
        assert gif.info["duration"] == 40  # 25 frames per second: the same speed as the episode
