"""What the fast paths must not change: fused updates equal single ones; nothing recompiles.

Timings live in `bench/speed.py`, never here.
"""

import jax
import numpy as np

from sac_jax import Batch, create_state, select_action, update_step, update_steps
from tests.helpers import SUBPROCESS_ENV, run_python
from tests.tiny import tiny_config as small_config

OBS_DIM, ACTION_DIM, BATCH, K = 5, 2, 16, 4


def random_batches(k: int, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    return Batch(
        obs=rng.standard_normal((k, BATCH, OBS_DIM), np.float32),
        action=rng.uniform(-1, 1, (k, BATCH, ACTION_DIM)).astype(np.float32),
        reward=rng.standard_normal((k, BATCH), np.float32),
        next_obs=rng.standard_normal((k, BATCH, OBS_DIM), np.float32),
        terminated=(rng.random((k, BATCH)) < 0.2).astype(np.float32),
    )


def test_fused_updates_equal_single_updates():
    batches = random_batches(K)
    single = create_state(small_config(), OBS_DIM, ACTION_DIM)
    for i in range(K):
        single, single_metrics = update_step(single, jax.tree.map(lambda x, i=i: x[i], batches))
    # update_steps donates its input, so it gets its own (identical) state
    fused, fused_metrics = update_steps(create_state(small_config(), OBS_DIM, ACTION_DIM), batches)

    # paths, not treedefs: each create_state builds its own Flax module, so apply_fn differs
    single_leaves = jax.tree_util.tree_flatten_with_path(single)[0]
    fused_leaves = jax.tree_util.tree_flatten_with_path(fused)[0]
    assert [p for p, _ in single_leaves] == [p for p, _ in fused_leaves]
    for (_, a), (_, b) in zip(single_leaves, fused_leaves):
        assert a.dtype == b.dtype and a.shape == b.shape
        if np.issubdtype(a.dtype, np.integer):
            np.testing.assert_array_equal(a, b)  # PRNG key and step counters: exactly equal
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert int(fused.step) == K
    assert single_metrics.keys() == fused_metrics.keys()
    for name in single_metrics:
        np.testing.assert_allclose(single_metrics[name], fused_metrics[name], rtol=1e-5, atol=1e-6)


def test_update_steps_compiles_once_across_calls(compile_counter):
    state = create_state(small_config(), OBS_DIM, ACTION_DIM)
    state, _ = update_steps(state, random_batches(K, 0))
    with compile_counter as compiles:
        for seed in range(1, 4):
            state, _ = update_steps(state, random_batches(K, seed))
    assert compiles.count == 0


def test_action_selection_compiles_once_across_many_calls(compile_counter):
    """Fresh and updated actors, new observations and keys: one compile per path (sample, mean)."""
    state = create_state(small_config(), OBS_DIM, ACTION_DIM)
    rng = np.random.default_rng(0)
    obs = rng.standard_normal(OBS_DIM).astype(np.float32)
    select_action(state.actor, obs, jax.random.PRNGKey(0))
    select_action(state.actor, obs)
    state, _ = update_steps(state, random_batches(1, 99))  # compiles the K=1 update itself
    with compile_counter as compiles:
        for step in range(20):
            obs = rng.standard_normal(OBS_DIM).astype(np.float32)
            action = select_action(state.actor, obs, jax.random.PRNGKey(step))
            assert action.shape == (ACTION_DIM,) and bool(np.all(np.abs(action) <= 1.0))
            greedy = select_action(state.actor, obs)  # deterministic evaluation action
            np.testing.assert_array_equal(greedy, select_action(state.actor, obs))
            if step % 5 == 4:
                state, _ = update_steps(state, random_batches(1, step))
    assert compiles.count == 0


FAULTS_PER_CALL = """
    import resource, jax, jax.numpy as jnp
    {setup}
    # A 40 MiB buffer per call, over glibc's largest mmap threshold (32 MiB): the size of the
    # buffers of a vmapped update over 8 HalfCheetah seeds.
    f = jax.jit(lambda x: x * 2.0)
    x = jnp.ones((2560, 4096))
    faults = []
    for _ in range(20):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        f(x).block_until_ready()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    # The last 10 calls: the first compiles, and glibc's heap may grow over the next few
    # (fragmentation) before every call fits into memory freed by an earlier one.
    print(sum(faults[-10:]), faults)
"""


def test_training_reuses_freed_host_memory_across_xla_calls(tmp_path):
    """After `train()` of several seeds, XLA calls that each allocate 40 MiB mostly reuse freed
    pages, where in a fresh process every call maps (and page-faults) its buffer anew.

    Several seeds, because that is where an update's buffers get this large, and where `train()`
    asks for one malloc arena. A single run turns off only mmap and trimming: there glibc still
    unmaps a worker thread's secondary heap once all of it is free, so a 40 MiB block can fault
    on some calls (`sac_jax.hostmem`)."""
    pages = 40 * 2**20 // 4096
    fresh = int(run_python(FAULTS_PER_CALL.format(setup=""), SUBPROCESS_ENV).split()[0])
    trained = int(
        run_python(
            FAULTS_PER_CALL.format(
                setup=(
                    "from sac_jax import loop; from tests.tiny import tiny_config; "
                    f"loop.train(tiny_config(total_steps=101, num_seeds=2), {str(tmp_path)!r}, quiet=True)"
                )
            ),
            SUBPROCESS_ENV,
        ).split()[0]
    )
    assert fresh > 5 * pages  # the mechanism this guards against is really there
    # Not zero: this VM's kernel reclaims idle pages now and then, and they fault back in.
    assert trained < fresh / 2
