"""The training loop: act, step, store, update, evaluate, log, save.

The loop always runs on a trial axis: `config.num_seeds` seeds (one is the ordinary case), times
any sweep points, share one vmapped state. Per env step the host dispatches one small device call
for all trials (the exploration actions, which the envs need) and one vmapped update queued behind
it, and waits only for the actions: the device goes from update to update while the host samples
the next batches and steps the envs. Metrics stay on the device until a log interval. Trial i's
run is the single-seed run of its seed: every random stream (env, warm-up actions, exploration
keys, network init, buffer sampling) is derived from that seed alone.
"""

import copy
import functools
import signal
import warnings

import jax
import ml_collections
import numpy as np

from sac_jax import config as config_lib
from sac_jax.acting import evaluate, explore
from sac_jax.bias import measure_state
from sac_jax.envs import EnvCreator, entry_point, env_dims
from sac_jax.health import EnvAndQChecks, NonFiniteError, all_finite, guard, non_finite_parts
from sac_jax.hostmem import reuse_freed_memory
from sac_jax.normalization import update_stats
from sac_jax.placement import seed_slice
from sac_jax.plot import draw_run
from sac_jax.session import Session, open_session
from sac_jax.sweep import expand_trials, swept_fields
from sac_jax.update import update_steps
from sac_jax.wandb_log import require_wandb
from sac_jax.writers import Progress

OBS_STATS_INTERVAL = 1_000  # env steps between merges of the newest observations into obs_stats


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


@functools.cache
def vmap_seeds(update_fn, where):
    """`update_fn` over a leading trial axis with each trial's health flag (`health.guard`),
    jitted (donating the state) once per (update_fn, placement), so a test can check that a run
    compiled its update once. Fixed in and out shardings: every call then has the first call's
    signature."""
    return jax.jit(
        jax.vmap(guard(update_fn)),
        in_shardings=(where.per_seed, where.batches, where.per_seed),
        out_shardings=where.per_seed,
        donate_argnums=(0, 2),
    )


def describe(s: Session) -> str:
    """The run's first console line: task, sizes, trials, devices, processes, budget, workdir."""
    c, seeds = s.config, [t.seed for t in s.trials]
    obs_dim, action_dim = env_dims(s.envs[0])
    swept = swept_fields(c)
    return (
        f"sac_jax: {c.env_id} (obs {obs_dim}, action {action_dim}), "
        + (f"seed {seeds[0]}" if len(set(seeds)) == 1 else f"seeds {min(seeds)}..{max(seeds)}")
        + "".join(f", {f} in {c[f]}" for f in swept)
        + (f" ({len(s.trials)} runs)" if swept else "")
        + f" on {s.where.devices} device(s) ({c.shard} axis split), {jax.process_count()} "
        + f"process(es), {c.total_steps} steps, workdir {s.workdir}"
        + (f", resumed at step {s.start}" if s.start else "")
    )


def act(s: Session, obs: np.ndarray, step: int):
    """Uniform random actions during the warm-up; after it, sampled from the policy (dispatched,
    not awaited: it runs after the previous update)."""
    if step <= s.config.learning_starts:
        uniform = [loop.random_actions.uniform(-1.0, 1.0, s.action_dim) for loop in s.loops]
        return np.stack(uniform).astype(np.float32)
    stats = s.state.obs_stats if s.config.normalize_obs else None
    return explore(s.state.actor, s.where.feed(obs), s.explore_keys, step, stats)


def step_envs(s: Session, actions: np.ndarray, step: int):
    """One env step per trial; an ended episode is reset. Returns what the buffer stores."""
    next_obs, rewards, terminated, truncated, _ = zip(*(e.step(a) for e, a in zip(s.envs, actions)))
    next_obs = np.stack(next_obs)  # before any reset: an env may reuse its observation array
    for env, loop, reward, obs, end in zip(
        s.envs, s.loops, rewards, next_obs, np.logical_or(terminated, truncated)
    ):
        loop.episode_return += float(reward)
        if end:
            loop.end_episode(env.reset()[0])
        else:
            loop.obs = obs
        loop.step = step
    return rewards, terminated, truncated, next_obs


def next_observations(s: Session) -> np.ndarray:
    """The observations the trials' next actions are taken in."""
    return np.stack([loop.obs for loop in s.loops]).astype(np.float32)


def update_obs_stats(s: Session) -> None:
    """Merge the newest buffer rows (raw observations, reset and final ones included), as many
    for every trial (after a resume without the buffer, fewer rows than the interval exist, and
    their number differs with each trial's episode ends)."""
    n = min(OBS_STATS_INTERVAL, *(b.rows_written for b in s.buffers.buffers))
    newest = np.stack([b.latest_obs(n) for b in s.buffers.buffers])
    s.state = s.state.replace(
        obs_stats=jax.vmap(update_stats)(s.state.obs_stats, s.where.put(newest))
    )


def evaluate_trials(s: Session, step: int) -> None:
    """Deterministic episodes of every trial's policy, on its own eval env, and the critics'
    value-estimation bias on stochastic ones (`sac_jax.bias`); logged, and the run's curves
    redrawn (by process 0, from every process's rows written so far)."""
    stats = s.state.obs_stats if s.config.normalize_obs else None
    actors, stats = jax.device_put(s.where.local((s.state.actor, stats)))
    # on the device once, not at every step of the bias episodes
    states = jax.device_put(s.where.local(s.state)) if s.config.bias_episodes else None
    for i, loop in enumerate(s.loops):
        seed = s.trials[i].seed + step
        returns = evaluate(
            seed_slice(actors, i),
            s.eval_envs[i],
            s.config.eval_episodes,
            seed,
            seed_slice(stats, i),
        )
        loop.last_eval = dict(return_mean=float(returns.mean()), return_std=float(returns.std()))
        loop.eval_step = step
        bias = {}
        if states is not None:
            bias = measure_state(seed_slice(states, i), s.eval_envs[i], s.config, seed)
            bias = bias if bias["q_steps"] else {}  # episodes too short for gamma: nothing to log
        s.writer.write_eval(step, s.trials[i], {**loop.last_eval, **bias})
    if jax.process_index() == 0:
        try:
            draw_run(s.workdir)
        except Exception as e:  # a picture of the logs: the run and its logs go on without it
            msg = f"could not draw {s.workdir}/curves.png ({e!r}); training goes on"
            warnings.warn(msg, stacklevel=1)


def check_finite(s: Session, healthy, metrics, since: int, step: int, whole_state=False) -> None:
    """Stop with a NonFiniteError if any trial went non-finite after step `since`; read where the
    loop syncs anyway, before anything is evaluated, logged or saved (`whole_state`: every leaf
    of the state too, before a save)."""
    if whole_state:
        healthy = healthy & jax.vmap(all_finite)(s.state)
    ok = np.asarray(s.where.local(healthy))
    if ok.all():
        return
    host_metrics, host_state = s.where.local((metrics, s.state))
    found = []
    for i in np.flatnonzero(~ok):
        bad = [k for k, v in host_metrics.items() if not np.isfinite(v[i])]
        parts = non_finite_parts(seed_slice(host_state, i))
        found.append(f"{s.trials[i].name}: {', '.join(parts)} parameters; metrics {bad}")
    raise NonFiniteError(
        f"non-finite values appeared between steps {since} and {step} ({'; '.join(found)}). "
        f"Nothing after step {since} was saved; {s.last_saved()}"
    )


def log_train(s: Session, step: int, metrics, progress: Progress, checks: EnvAndQChecks) -> str:
    """train.csv rows (one per trial) and the console line; the only read of the metrics."""
    sps = progress.rate(step)
    host_metrics = s.where.local(metrics) if metrics is not None else {}
    checks.q_range(step, host_metrics)
    for i, loop in enumerate(s.loops):
        row = {"steps_per_sec": sps}
        if loop.last_episode_return is not None:
            row["episode_return"] = loop.last_episode_return
        # A NaN is a metric the update did not compute (the actor's, on an update that skips it):
        # left out, not logged. Divergence is check_finite's: it stops the run by name.
        row.update({k: float(v[i]) for k, v in host_metrics.items() if not np.isnan(v[i])})
        s.writer.write_train(step, s.trials[i], row)
    evals = [loop.last_eval["return_mean"] for loop in s.loops if "return_mean" in loop.last_eval]
    alpha = float(np.mean(host_metrics["alpha"])) if "alpha" in host_metrics else None
    return progress.line(step, sps, float(np.mean(evals)) if evals else None, alpha)


def train(
    config: ml_collections.ConfigDict,
    workdir: str,
    quiet: bool = False,
    update_fn=update_steps,
    make_env: EnvCreator | None = None,
) -> list[dict]:
    """Train SAC as `config` says; write all outputs to `workdir`. Returns the last evaluation of
    every trial of this process (its seed, swept values, `return_mean`, `return_std`).

    `update_fn(state, batches) -> (state, metrics)` consumes one trial's batches shaped
    (num_critic_updates, batch_size, ...); pass `sac_jax.make_update_steps(my_step)` for a variant.
    `make_env(**config.env_kwargs) -> gym.Env` makes the envs instead of `config.env_id`, which
    then records the factory as `module:name`, so `evaluate` and a resume can import it.
    If `workdir` holds checkpoints, training continues from the latest one (docs/checkpoints.md).
    On SIGINT/SIGTERM it saves a checkpoint and raises SystemExit(128 + signal).
    """
    if make_env is not None:
        config = copy.deepcopy(config)
        with config.unlocked():
            config.env_id = entry_point(make_env)
    config_lib.validate(config)
    require_wandb(config)
    log = (lambda *_: None) if quiet else (lambda msg: print(msg, flush=True))
    c = config
    reuse_freed_memory(one_arena=len(expand_trials(c)) > 1)  # sac_jax.hostmem says why
    with open_session(c, workdir, make_env) as s, StopRequest() as stop:
        update = vmap_seeds(update_fn, s.where)
        progress, metrics = Progress(c.total_steps, start_step=s.start), None
        update_start = s.loops[0].update_start  # equal for all trials: one config, one step
        healthy, checked = s.where.put(np.ones(len(s.trials), bool)), s.start
        scalars = s.where.local(s.state.scalars)
        gammas = scalars.gamma  # the n-step sums' discount, per trial
        names = [t.name for t in s.trials]
        rewards = s.buffers.rows["reward"]
        checks = EnvAndQChecks(names, scalars.gamma, scalars.reward_scale, s.action_dim, rewards)
        log(describe(s))
        if s.start >= c.total_steps:
            log(
                f"Nothing to do: the checkpoint is at step {s.start} >= total_steps "
                f"{c.total_steps}; pass a larger --config.total_steps to continue."
            )
        obs = next_observations(s)
        checks.require_finite(s.start + 1, "the env's observation", obs)  # reset or restored
        for step in range(s.start + 1, c.total_steps + 1):
            actions = act(s, obs, step)
            if step > update_start:  # queued behind the actions: the device never waits
                batches = s.buffers.sample(c.batch_size, c.num_critic_updates, c.n_step, gammas)
                batches = s.where.feed(batches, batches=True)
                s.state, metrics, healthy = update(s.state, batches, healthy)
            actions = s.where.local(actions)  # the one wait per step; the update runs on
            if not np.isfinite(actions).all():  # the policy went non-finite: report, stop
                check_finite(s, healthy, metrics, checked, step)  # names the non-finite parts
                checks.require_finite(step, "the policy's action", actions, s.last_saved())
            rewards, terminated, truncated, next_obs = step_envs(s, actions, step)
            following = next_observations(s)  # next_obs, or a reset's where an episode ended
            checks.env_step(step, rewards, next_obs, following)
            s.buffers.add(obs, actions, rewards, terminated, truncated, next_obs)
            obs = following
            if c.normalize_obs and step % OBS_STATS_INTERVAL == 0:
                update_obs_stats(s)
            last = step == c.total_steps
            evaluate_now = step % c.eval_interval == 0 or last
            log_now = step % c.log_interval == 0 or last
            if evaluate_now or log_now:  # where the loop syncs anyway
                check_finite(s, healthy, metrics, checked, step)
                checked = step
            if evaluate_now:
                evaluate_trials(s, step)
            if log_now:
                log(log_train(s, step, metrics, progress, checks))
            if step % c.checkpoint_interval == 0 or last or stop.signum:
                check_finite(s, healthy, metrics, checked, step, whole_state=True)
                checked = step
                s.save()
            if stop.signum:
                log(
                    f"Stopped by {signal.Signals(stop.signum).name} at step {step}; saved a "
                    f"checkpoint in {s.saved_in()}. To resume, run the same command with "
                    f"--workdir {workdir}"
                )
                raise SystemExit(128 + stop.signum)
        return [{**t.tags, **loop.last_eval} for t, loop in zip(s.trials, s.loops)]
