"""Orbax checkpoints of a training run under WORKDIR/checkpoints/, and the workdir lock.

A checkpoint holds everything the loop needs to continue as if it had never stopped:

- `state`: the whole SACState (every leaf: params, optimizer states, target critic, log-alpha,
  PRNG key, update counter), saved as host NumPy arrays so it restores on any device.
- `replay`: the written rows of the replay buffer and its pointers (`config.checkpoint_buffer`).
- `loop`: JSON with the loop counters, the current observation, the NumPy RNG states (random
  warm-up actions, replay sampling, the env's own RNG), the env's episode state where it can be
  restored (`env_state`), the last evaluation, and the env's sizes and action bounds.
- `config`: the run's config as JSON.

Saves are synchronous and atomic (Orbax writes a temporary directory and renames it when done),
so a process killed mid-save leaves the previous checkpoints intact. The latest
`keep_checkpoints` are kept, plus the one with the best evaluation return.
"""

import asyncio
import dataclasses
import fcntl
import json
import os
import signal

import gymnasium as gym
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint._src.serialization import ocdbt_utils
from orbax.checkpoint._src.serialization import tensorstore_utils as ts_utils
from flax.training.train_state import TrainState

from sac_jax.config import default_config
from sac_jax.normalization import RunningStats
from sac_jax.replay import ReplayBuffer
from sac_jax.state import SACState, create_state

# Fields a resumed run may change; any other difference from the checkpoint's config is an error.
RESUMABLE_FIELDS = frozenset({
    "total_steps", "eval_interval", "eval_episodes", "log_interval",
    "checkpoint_interval", "keep_checkpoints", "checkpoint_buffer", "shard",
})  # fmt: skip
_BEST_METRIC = "eval_return_mean"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the run that wants it."""


class WorkdirLockedError(RuntimeError):
    """Another live process is training in the same workdir."""


def checkpoint_dir(workdir: str) -> str:
    return os.path.join(os.path.abspath(workdir), "checkpoints")


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
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.file = open(self.path, "a+")
        try:
            fcntl.flock(self.file, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            pid = self.file.read().strip()
            self.file.close()
            holder = f"pid {pid}" if pid else "the processes of a --distributed run"
            raise WorkdirLockedError(
                f"workdir {os.path.dirname(self.path)!r} is in use by another training run ({holder}, "
                f"lock {self.path}); wait for it to finish, stop it, or use another --workdir"
            ) from None
        self.file.truncate(0)
        if not self.shared:
            self.file.write(str(os.getpid()))
            self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.close()  # releases the flock


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag the loop polls, so it can save before exiting.

    A second signal of the same kind gets the default behaviour (e.g. KeyboardInterrupt), for
    when a user does not want to wait for the save. Outside the main thread (where Python cannot
    install handlers) signals keep their defaults.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self.previous = {}

    def _handle(self, signum, frame):
        self.signum = signum
        signal.signal(signum, self.previous[signum])

    def __enter__(self):
        try:
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        except ValueError:  # not the main thread
            self.previous = {}
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)


@dataclasses.dataclass
class LoopState:
    """The training loop's own variables: with the SACState, env and buffer, a resumable run."""

    obs: np.ndarray
    random_actions: np.random.Generator  # warm-up actions
    update_start: int  # updates run at steps > update_start
    step: int = 0  # env steps taken
    episode_return: float = 0.0  # of the episode in progress
    episodes: int = 0  # completed
    last_episode_return: float | None = None
    last_eval: dict = dataclasses.field(default_factory=dict)
    eval_step: int | None = None  # the step of last_eval

    def end_episode(self) -> None:
        self.last_episode_return, self.episode_return = self.episode_return, 0.0
        self.episodes += 1


# --- Env episode state ---------------------------------------------------------------------------


def _time_limit(env: gym.Env) -> gym.wrappers.TimeLimit | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return env
        env = env.env
    return None


_MUJOCO_BODY_POSITIONS = ("xpos", "xipos")  # body frames and centers of mass


def _mujoco_state_spec():
    import mujoco  # imported late: MUJOCO_GL must be set before mujoco is first imported

    return mujoco, mujoco.mjtState.mjSTATE_INTEGRATION


def env_state(env: gym.Env) -> dict | None:
    """The env's episode state as JSON data, or None for envs whose state is not captured.

    Captured: MuJoCo envs (MuJoCo's full integration state: qpos, qvel, act, warm start,
    controls, time, ...; plus the body positions the last `mj_step` left, which are one substep
    behind qpos and which Ant and Humanoid read for their reward before stepping) and envs that
    keep their physics in a NumPy `state` attribute (Pendulum, MountainCarContinuous); for both
    also the env's NumPy RNG and the TimeLimit step count. Not captured: Box2D envs (LunarLander,
    BipedalWalker) and anything else.
    """
    inner, time_limit = env.unwrapped, _time_limit(env)
    if hasattr(inner, "model") and hasattr(inner, "data"):
        mujoco, spec = _mujoco_state_spec()
        physics = np.empty(mujoco.mj_stateSize(inner.model, spec))
        mujoco.mj_getState(inner.model, inner.data, physics, spec)
        saved = {"mujoco_state": physics.tolist()}
        saved.update({name: getattr(inner.data, name).tolist() for name in _MUJOCO_BODY_POSITIONS})
    elif isinstance(getattr(inner, "state", None), np.ndarray):
        saved = {"state": inner.state.tolist(), "dtype": inner.state.dtype.str}
    else:
        return None
    saved["np_random"] = inner.np_random.bit_generator.state
    saved["elapsed_steps"] = time_limit._elapsed_steps if time_limit else None
    return saved


def set_env_state(env: gym.Env, saved: dict) -> None:
    """Inverse of `env_state`, on an env that has been reset (so its wrappers allow `step`)."""
    inner, time_limit = env.unwrapped, _time_limit(env)
    if "mujoco_state" in saved:
        mujoco, spec = _mujoco_state_spec()
        mujoco.mj_setState(inner.model, inner.data, np.asarray(saved["mujoco_state"]), spec)
        mujoco.mj_forward(inner.model, inner.data)
        for name in _MUJOCO_BODY_POSITIONS:  # as they were, not as mj_forward recomputed them
            getattr(inner.data, name)[:] = saved[name]
    else:
        inner.state = np.asarray(saved["state"], np.dtype(saved["dtype"]))
    inner.np_random.bit_generator.state = saved["np_random"]
    if time_limit is not None:
        time_limit._elapsed_steps = saved["elapsed_steps"]


def env_info(env: gym.Env) -> dict:
    """What a checkpoint needs to know about its env without making one: sizes and real bounds."""
    space = env.unwrapped.action_space
    return {
        "env_id": env.spec.id,
        "obs_dim": int(env.observation_space.shape[0]),
        "action_dim": int(space.shape[0]),
        "action_low": np.asarray(space.low, np.float64).tolist(),
        "action_high": np.asarray(space.high, np.float64).tolist(),
    }


# --- The checkpoint manager ----------------------------------------------------------------------


def config_from_json(saved: dict) -> ml_collections.ConfigDict:
    """A checkpoint's config; fields added to default_config since it was saved get defaults."""
    config = default_config()
    config.update(saved)
    return config


def _config_json(config: ml_collections.ConfigDict) -> dict:
    return json.loads(config.to_json_best_effort())


def _host(tree):
    """Device arrays -> NumPy; the checkpoint then carries no device or sharding."""
    return jax.tree.map(np.asarray, jax.device_get(tree))


def _zeros_like(make_tree):
    """NumPy zeros shaped like `make_tree()`'s leaves: a restore template.

    `jax.eval_shape` runs nothing, and gives Python-int leaves (TrainState.step before the first
    update) the int32 dtype that the saved arrays have.
    """
    return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), jax.eval_shape(make_tree))


def _restore_args(template, partial: bool = False) -> ocp.args.PyTreeRestore:
    """Restore exactly the template's leaves, as NumPy arrays of its dtypes."""
    restore_args = ocp.checkpoint_utils.construct_restore_args(template)
    return ocp.args.PyTreeRestore(item=template, restore_args=restore_args, partial_restore=partial)


class _OwnedNumpyHandler(ocp.type_handlers.NumpyHandler):
    """Orbax's NumPy handler writes only in process 0: it takes host arrays for copies replicated in
    every process. A seed's arrays live only in the process that owns the seed, which writes them."""

    async def _background_serialize(self, values, infos, args):
        writes = []
        for value, info, arg in zip(values, infos, args):
            await info.await_path_creation()
            spec = ts_utils.build_array_write_spec(
                info=info,
                arg=arg,
                global_shape=value.shape,
                local_shape=value.shape,
                dtype=value.dtype,
                use_ocdbt=info.is_ocdbt_checkpoint,
                process_index=ocdbt_utils.get_process_index_for_subdir(
                    use_ocdbt=info.is_ocdbt_checkpoint,
                    override_ocdbt_process_id=self._override_ocdbt_process_id,
                ),
                metadata_key=self._metadata_key,
            )
            writes.append(self._open_and_write(value, spec.json, info.ts_context))
        await asyncio.gather(*writes)


def _this_process_only() -> tuple[ocp.options.MultiprocessingOptions, dict]:
    """Options and item handlers for checkpoints that one process alone saves and restores: no
    other process joins them, and this one writes them (Orbax's default is all processes, with only
    process 0 writing, in the manager and in every item handler)."""
    this_process = ocp.options.MultiprocessingOptions(
        primary_host=jax.process_index(), active_processes={jax.process_index()}
    )
    # jax.Array is never saved (the state is saved as host arrays); Orbax warns without a handler.
    arrays = ocp.type_handlers.create_type_handler_registry(
        (np.ndarray, _OwnedNumpyHandler()), (jax.Array, ocp.type_handlers.ArrayHandler())
    )
    pytree = lambda: ocp.PyTreeCheckpointHandler(  # noqa: E731
        multiprocessing_options=this_process, type_handler_registry=arrays
    )
    json_item = lambda: ocp.JsonCheckpointHandler(multiprocessing_options=this_process)  # noqa: E731
    return this_process, dict(state=pytree(), replay=pytree(), loop=json_item(), config=json_item())


class Checkpointer:
    """The Orbax CheckpointManager of one workdir.

    With a config it belongs to a training run: it saves, keeps the latest
    `config.keep_checkpoints` plus the best by eval return, and deletes older ones. Without one it
    is read-only (evaluation, `load_policy`) and never writes or deletes anything.
    """

    def __init__(self, workdir: str, config: ml_collections.ConfigDict | None = None):
        self.directory = checkpoint_dir(workdir)
        self.config = config
        # A checkpoint saved without an evaluation at its step ranks below every evaluated one.
        best = dict(best_fn=lambda m: m.get(_BEST_METRIC, -np.inf), best_mode="max")
        this_process, handlers = _this_process_only()  # a seed's checkpoints are its process's
        if config is None:
            if not os.path.isdir(workdir):
                raise CheckpointError(f"workdir {workdir!r} does not exist")
            if not os.path.isdir(self.directory) or not os.listdir(self.directory):
                raise CheckpointError(f"workdir {workdir!r} has no checkpoints (no {self.directory}/)")
            options = ocp.CheckpointManagerOptions(
                read_only=True, create=False, save_interval_steps=0,
                multiprocessing_options=this_process, **best,
            )  # fmt: skip
        else:
            keep = ocp.checkpoint_managers.AnyPreservationPolicy([
                ocp.checkpoint_managers.LatestN(n=config.keep_checkpoints),
                ocp.checkpoint_managers.BestN(get_metric_fn=best["best_fn"], n=1),
            ])  # fmt: skip
            os.makedirs(self.directory, exist_ok=True)  # Orbax will not with active_processes
            options = ocp.CheckpointManagerOptions(
                preservation_policy=keep,
                create=False,
                enable_async_checkpointing=False,  # the loop donates the state right after
                cleanup_tmp_directories=True,  # remove what a killed save left half-written
                multiprocessing_options=this_process,
                **best,
            )
        self.manager = ocp.CheckpointManager(self.directory, options=options, item_handlers=handlers)
        if config is None and self.manager.latest_step() is None:
            raise CheckpointError(f"workdir {workdir!r} has no complete checkpoint in {self.directory}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.manager.close()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def best_step(self) -> int | None:
        return self.manager.best_step()

    def _step_dir(self, step: int) -> str:
        return os.path.join(self.directory, str(step))

    def _checked_step(self, step: int | None) -> int:
        steps = sorted(self.manager.all_steps())
        if step is None:
            return steps[-1]
        if step not in steps:
            raise CheckpointError(
                f"no checkpoint at step {step} in {self.directory}; available: steps {steps}"
            )
        return step

    def _restore(self, step: int, **items):
        """Restore the named items of one checkpoint; any read failure becomes a CheckpointError."""
        try:
            return self.manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as e:  # Orbax/TensorStore raise many types for damaged files
            others = [s for s in self.manager.all_steps() if s != step]
            raise CheckpointError(
                f"checkpoint {self._step_dir(step)} cannot be read; it is corrupted or incomplete "
                f"({type(e).__name__}: {e}). Nothing was changed. Other checkpoints: steps {others}; "
                "move the damaged step directory away to use them."
            ) from e

    def metadata(self, step: int | None = None) -> tuple[int, dict, dict]:
        """(step, loop item, config item) of a checkpoint (default: the latest)."""
        step = self._checked_step(step)
        restored = self._restore(step, loop=ocp.args.JsonRestore(), config=ocp.args.JsonRestore())
        return step, restored.loop, restored.config

    def restore_actor(
        self, step: int | None = None
    ) -> tuple[int, TrainState, RunningStats | None, dict, ml_collections.ConfigDict]:
        """Only the actor's parameters (no optimizer state, no critics, no buffer) of a checkpoint.

        Returns (step, actor TrainState without optimizer, observation statistics when the run
        normalized observations else None, loop item, config).
        """
        step, loop, saved_config = self.metadata(step)
        config = config_from_json(saved_config)
        env = loop["env"]
        template = _zeros_like(lambda: create_state(config, env["obs_dim"], env["action_dim"]))
        params = {"actor": {"params": template.actor.params}}
        if config.normalize_obs:
            params["obs_stats"] = template.obs_stats
        restored = self._restore(step, state=_restore_args(params, partial=True)).state
        actor = TrainState(
            step=0,
            apply_fn=template.actor.apply_fn,
            params=jax.device_put(restored["actor"]["params"]),
            tx=None,
            opt_state=None,
        )
        obs_stats = jax.device_put(restored["obs_stats"]) if config.normalize_obs else None
        return step, actor, obs_stats, loop, config

    def restore_or_init(
        self,
        state: SACState,
        run: LoopState,
        env: gym.Env,
        buffer: ReplayBuffer,
        step: int | None = None,
    ) -> tuple[SACState, LoopState]:
        """Continue from checkpoint `step` (default: the latest) if there is one; else return the
        fresh arguments.

        Checks that the checkpoint fits this run (env sizes, config) before touching anything.
        `env` must have been reset; its episode state is then overwritten where it can be.
        """
        if step is None:
            step = self.latest_step()
        if step is None:
            return state, run
        step, loop, saved_config = self.metadata(step)
        self._check_compatible(step, loop["env"], saved_config, env)
        items = {"state": _restore_args(_zeros_like(lambda: state))}
        has_replay = os.path.isdir(os.path.join(self._step_dir(step), "replay"))
        if has_replay:
            items["replay"] = ocp.args.PyTreeRestore()  # NumPy arrays, shaped as saved
        restored = self._restore(step, **items)
        state = jax.device_put(restored.state)

        counters = loop["counters"]
        run.random_actions.bit_generator.state = loop["random_actions_rng"]
        run.obs = np.asarray(counters.pop("obs"), np.dtype(counters.pop("obs_dtype")))
        for name, value in counters.items():
            setattr(run, name, value)
        if has_replay:
            buffer.load_state_dict(restored.replay)
            buffer.rng.bit_generator.state = loop["replay_rng"]
        else:  # refill the buffer with the current policy before updating again
            run.update_start = max(run.update_start, step + self.config.learning_starts)
        if loop["env_state"] is not None:
            set_env_state(env, loop["env_state"])
        else:  # the episode in progress cannot continue: start a new one
            buffer.end_episode()
            run.obs, _ = env.reset(seed=self.config.seed + step)
            run.episode_return = 0.0
        return state, run

    def _check_compatible(self, step: int, saved_env: dict, saved_config: dict, env: gym.Env):
        where = f"checkpoint {self._step_dir(step)}"
        now = env_info(env)
        if (saved_env["obs_dim"], saved_env["action_dim"]) != (now["obs_dim"], now["action_dim"]):
            raise CheckpointError(
                f"{where} was saved for {saved_env['env_id']} (obs size {saved_env['obs_dim']}, action "
                f"size {saved_env['action_dim']}), but this run's env {now['env_id']} has obs size "
                f"{now['obs_dim']} and action size {now['action_dim']}. Use another --workdir."
            )
        current = _config_json(self.config)
        saved_config = _config_json(config_from_json(saved_config))  # fields added since: defaults
        changed = sorted(
            f for f in set(current) | set(saved_config)
            if f not in RESUMABLE_FIELDS and current.get(f) != saved_config.get(f)
        )  # fmt: skip
        if changed:
            diffs = ", ".join(
                f"{f}: saved {saved_config.get(f)!r}, now {current.get(f)!r}" for f in changed
            )
            raise CheckpointError(
                f"{where} was saved with a different config ({diffs}). A resumed run may change only "
                f"{sorted(RESUMABLE_FIELDS)}; use the checkpoint's values or another --workdir."
            )

    def save(self, state: SACState, run: LoopState, env: gym.Env, buffer: ReplayBuffer) -> None:
        """Checkpoint the run at `run.step`; marked with the eval return if it evaluated then."""
        counters = {f.name: getattr(run, f.name) for f in dataclasses.fields(run)}
        del counters["random_actions"]  # its state is saved below
        counters.update(obs=run.obs.tolist(), obs_dtype=run.obs.dtype.str)
        loop = {
            "counters": counters,
            "random_actions_rng": run.random_actions.bit_generator.state,
            "replay_rng": buffer.rng.bit_generator.state,
            "env_state": env_state(env),
            "env": env_info(env),
        }
        items = {
            "state": ocp.args.PyTreeSave(_host(state)),
            "loop": ocp.args.JsonSave(loop),
            "config": ocp.args.JsonSave(_config_json(self.config)),
        }
        if self.config.checkpoint_buffer:
            items["replay"] = ocp.args.PyTreeSave(buffer.state_dict())
        evaluated = run.eval_step == run.step and "return_mean" in run.last_eval
        metrics = {_BEST_METRIC: run.last_eval["return_mean"]} if evaluated else {}
        self.manager.save(run.step, args=ocp.args.Composite(**items), metrics=metrics)
