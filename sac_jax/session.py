"""A training session: a run's envs, replay buffers, train state, loop states, checkpointers and
log writer, built fresh or restored from the workdir's latest checkpoint.

Every trial of a run (a seed at a sweep point, `sac_jax.sweep`) is checkpointed as a single-seed
run of its own, so `evaluate` and `load_policy` read any trial's folder as they read a plain run.
"""

import contextlib
import dataclasses
import os
import warnings
from collections.abc import Iterator

import jax
import ml_collections
import numpy as np

from sac_jax import config as config_lib
from sac_jax.checkpointing import Checkpointer, CheckpointError, host_zeros_like
from sac_jax.compatibility import check_compatible
from sac_jax.distributed import all_processes
from sac_jax.envs import EnvCreator, env_dims, env_info, env_state, make_env, set_env_state
from sac_jax.loop_state import LoopState
from sac_jax.placement import Placement, placement, seed_slice, stack_seeds
from sac_jax.provenance import record_launch
from sac_jax.replay import ReplayBuffer, ReplayBuffers
from sac_jax.state import SACState, create_state
from sac_jax.sweep import Trial, expand_trials, stacked_values, trial_config
from sac_jax.wandb_log import open_runs
from sac_jax.workdir import (
    TRIAL_DIRS,
    WorkdirLock,
    checkpoint_dir,
    log_dirs,
    process_dirs,
    saved_layout,
    trial_dir,
    trials_have_saved,
    write_config,
)
from sac_jax.writers import RunWriter, truncate_logs


def save_trial(ckpt: Checkpointer, config, state, loop: LoopState, env, buffer: ReplayBuffer):
    """Checkpoint one trial at `loop.step`, marked with its eval return if it evaluated then."""
    loop_item = {
        **loop.state_dict(),
        "replay_rng": buffer.sampler_state(),
        "env_state": env_state(env),
        "env": env_info(env),
    }
    ckpt.save(
        loop.step,
        state,
        loop_item,
        config_lib.to_json(config),
        replay=buffer.state_dict() if config.checkpoint_buffer else None,
        eval_return=loop.last_eval["return_mean"] if loop.evaluated_now() else None,
    )


def restore_trial(
    ckpt: Checkpointer, config, state, loop: LoopState, env, buffer: ReplayBuffer, step: int
) -> SACState:
    """Continue one trial from checkpoint `step`: returns its state (host arrays); the loop state,
    buffer and env (which must have been reset) load what they saved.

    Checks that the checkpoint fits this trial (env sizes, config) before touching anything.
    """
    step, loop_item, saved_config = ckpt.metadata(step)
    check_compatible(
        f"checkpoint {ckpt.step_dir(step)}", loop_item["env"], saved_config, env, config
    )
    has_replay = ckpt.has_replay(step)
    state, replay = ckpt.restore_arrays(step, host_zeros_like(lambda: state), replay=has_replay)
    try:
        loop.load_state_dict(loop_item)
    except ValueError as e:
        raise CheckpointError(f"checkpoint {ckpt.step_dir(step)}: {e}") from e
    if has_replay:
        buffer.load_state_dict(replay)
        buffer.load_sampler_state(loop_item["replay_rng"])
    else:  # refill the buffer with the current policy before updating again
        loop.delay_updates(until=step + config.learning_starts)
    if loop_item["env_state"] is not None:
        set_env_state(env, loop_item["env_state"])
    else:  # the episode in progress cannot continue: start a new one
        buffer.end_episode()
        loop.restart_episode(env.reset(seed=config.seed + step)[0])
    return state


@dataclasses.dataclass
class Session:
    """What `sac_jax.loop.train` steps: this process's trials of one run, all on a leading axis."""

    config: ml_collections.ConfigDict
    workdir: str
    trials: list[Trial]  # this process's; all of them in one process
    num_trials: int  # of all processes
    where: Placement
    envs: list
    eval_envs: list
    state: SACState  # every trial's, stacked and placed
    buffers: ReplayBuffers
    loops: list[LoopState]
    explore_keys: jax.Array
    checkpointers: list[Checkpointer]
    writer: RunWriter | None = None

    @property
    def start(self) -> int:
        return self.loops[0].step

    @property
    def action_dim(self) -> int:
        return self.buffers[0].action.shape[-1]

    def save(self) -> None:
        """Checkpoint every trial of this process at the current step."""
        host_state = self.where.local(self.state)
        for i, ckpt in enumerate(self.checkpointers):
            config = (
                trial_config(self.config, self.trials[i]) if self.num_trials > 1 else self.config
            )
            save_trial(
                ckpt,
                config,
                seed_slice(host_state, i),
                self.loops[i],
                self.envs[i],
                self.buffers[i],
            )

    def last_saved(self) -> str:
        """Where the newest checkpoint is, for messages after a failure."""
        step = self.checkpointers[0].latest_step()
        if step is None:
            return "no checkpoint was saved yet"
        return f"the latest checkpoint, step {step} in {self.saved_in()}, holds finite values"

    def saved_in(self) -> str:
        if len(self.checkpointers) == 1:
            return self.checkpointers[0].directory
        return os.path.join(self.workdir, TRIAL_DIRS)


def _checkpointers(stack, config, workdir: str, trials: list[Trial], num_trials: int):
    layout = saved_layout(workdir)
    if (num_trials == 1 and layout == "multi") or (num_trials > 1 and layout == "single"):
        raise CheckpointError(
            f"workdir {workdir!r} holds the checkpoints of "
            f"{'several runs' if layout == 'multi' else 'one run'}, and this config trains "
            f"{num_trials}; use the num_seeds, seed and sweep the workdir was started with, or "
            "another --workdir"
        )
    dirs = [trial_dir(workdir, t.name, num_trials) for t in trials]
    missing = [t.name for t, d in zip(trials, dirs) if not os.path.isdir(checkpoint_dir(d))]
    if missing and trials_have_saved(workdir):  # refused before any folder is made
        raise CheckpointError(
            f"workdir {workdir!r} holds the checkpoints of other runs than {missing}; use the "
            "num_seeds, seed and sweep the workdir was started with, or another --workdir"
        )
    return [stack.enter_context(Checkpointer(d, config.keep_checkpoints)) for d in dirs]


def _restore(session: Session) -> None:
    """Every trial from the newest checkpoint step that all trials (of all processes) have (a
    process killed between two trials' saves continues from the step before, and the trials'
    later checkpoints are deleted), or all fresh when no trial has one."""
    latest = all_processes([c.latest_step() for c in session.checkpointers])
    if None in latest:
        _start_over(session, latest)
        return
    step, s = min(latest), session
    states = [
        restore_trial(
            ckpt,
            trial_config(s.config, s.trials[i]) if s.num_trials > 1 else s.config,
            seed_slice(s.state, i),
            s.loops[i],
            s.envs[i],
            s.buffers[i],
            step,
        )
        for i, ckpt in enumerate(s.checkpointers)
    ]
    for ckpt in s.checkpointers:  # the logs after `step` are dropped too (RunWriter)
        ckpt.discard_after(step)
    s.state = stack_seeds(states)


def _start_over(session: Session, latest: list[int | None]) -> None:
    """Some trials have no checkpoint. If the others hold only their first one, at one step, the
    run was stopped during its first saves: those are deleted, with a warning, and all start
    fresh. Anything more is another run's work, and the workdir is refused untouched."""
    if all(step is None for step in latest):
        return
    names = [t.name for t, step in zip(expand_trials(session.config), latest) if step is None]
    saves = all_processes([len(c.steps()) for c in session.checkpointers])
    if max(saves) > 1 or len({step for step in latest if step is not None}) > 1:
        raise CheckpointError(
            f"run(s) {names} of workdir {session.workdir!r} have no checkpoint while the others "
            "have saved more than once; use the num_seeds, seed and sweep the workdir was started "
            "with, or another --workdir"
        )
    warnings.warn(
        f"run(s) {names} of workdir {session.workdir!r} stopped before their first checkpoint: "
        "every run starts again from step 0",
        stacklevel=1,
    )
    for ckpt in session.checkpointers:
        ckpt.discard_after(0)


def _build(config, workdir: str, creator: EnvCreator | None) -> Session:
    """Everything fresh: envs reset with each trial's seed, its state, an empty buffer."""
    all_trials = expand_trials(config)
    where = placement(len(all_trials), config.batch_size, config.shard)
    trials = [all_trials[i] for i in where.seeds]
    seeds = [t.seed for t in trials]
    kwargs = config_lib.env_kwargs(config)
    envs = [make_env(config.env_id, s, env_kwargs=kwargs, creator=creator) for s in seeds]
    eval_envs = [make_env(config.env_id, s + 1, env_kwargs=kwargs, creator=creator) for s in seeds]
    obs_dim, action_dim = env_dims(envs[0])
    keys = np.stack([jax.random.PRNGKey(s) for s in seeds])
    state = jax.vmap(lambda key, values: create_state(config, obs_dim, action_dim, key, values))(
        keys, stacked_values(trials)
    )
    loops = [
        LoopState(
            obs=env.reset(seed=s)[0],
            random_actions=np.random.default_rng(s),
            update_start=config.learning_starts,
        )
        for env, s in zip(envs, seeds)
    ]
    return Session(
        config=config,
        workdir=workdir,
        trials=trials,
        num_trials=len(all_trials),
        where=where,
        envs=envs,
        eval_envs=eval_envs,
        state=state,
        buffers=ReplayBuffers(config.buffer_size, obs_dim, action_dim, seeds),
        loops=loops,
        explore_keys=where.put(np.stack([jax.random.fold_in(k, 1) for k in keys])),
        checkpointers=[],
    )


@contextlib.contextmanager
def open_session(
    config: ml_collections.ConfigDict, workdir: str, creator: EnvCreator | None = None
) -> Iterator[Session]:
    """The run's session, restored if the workdir has checkpoints, with the workdir locked and
    its logs open; closes all of it on exit. `creator` makes the envs instead of config.env_id."""
    dirs = process_dirs(workdir, jax.process_count())
    with contextlib.ExitStack() as stack:
        session = _build(config, workdir, creator)
        stack.callback(lambda: [env.close() for env in session.envs + session.eval_envs])
        # A one-process run locks the workdir alone; the processes of a distributed run share
        # its lock and each holds its own folder's, so no two runs of either kind write one.
        stack.enter_context(WorkdirLock(workdir, shared=len(dirs) > 1))
        if len(dirs) > 1:
            stack.enter_context(WorkdirLock(dirs[jax.process_index()]))
        session.checkpointers = _checkpointers(
            stack, config, workdir, session.trials, session.num_trials
        )
        _restore(session)
        session.state = session.where.put(session.state)
        if jax.process_index() == 0:  # one writer: every process has the same config
            write_config(workdir, config.to_json_best_effort(indent=2))
            record_launch(workdir, session.start)
            for other in set(log_dirs(workdir)) - set(dirs):  # other process counts' rows
                truncate_logs(other, session.start)
        runs = stack.enter_context(open_runs(config, workdir, session.trials, session.loops))
        session.writer = stack.enter_context(
            RunWriter(
                dirs[jax.process_index()],
                resume_step=session.start,
                multi_run=session.num_trials > 1,
                wandb=runs,
            )
        )
        yield session
