"""n-step returns, computed at sample time from the compact buffer, against sums by hand."""

import jax
import numpy as np

from sac_jax import Batch, create_state, loop, losses, update_steps
from sac_jax.replay import ReplayBuffer, ReplayBuffers
from sac_jax.types import NStepBatch
from tests.helpers import small_config

GAMMA = 0.5


def obs(x):
    return np.array([x], np.float32)


def filled(capacity=16):
    """Episode A: rewards 1, 2, 3, then terminated (observations 10, 11, 12, final 13). Episode B:
    rewards 10, 20, then truncated (observations 20, 21, final 22). Episode C: reward 100, in
    progress (observation 30, latest 31). Rows: A 0-3, B 4-6, C 7-8."""
    buffer = ReplayBuffer(capacity, obs_dim=1, action_dim=1)
    for o, r, term, trunc in [(10, 1, 0, 0), (11, 2, 0, 0), (12, 3, 1, 0)]:
        buffer.add(obs(o), np.zeros(1), r, bool(term), bool(trunc), obs(o + 1))
    for o, r, trunc in [(20, 10, 0), (21, 20, 1)]:
        buffer.add(obs(o), np.zeros(1), r, False, bool(trunc), obs(o + 1))
    buffer.add(obs(30), np.zeros(1), 100.0, False, False, obs(31))
    return buffer


def test_n_step_sums_stop_at_episode_ends():
    batch = filled().transitions(np.array([0, 1, 2, 4, 5, 7]), n_step=3, gamma=GAMMA)
    # A from row 0: 1 + .5 * 2 + .25 * 3, terminated; from row 1: 2 + .5 * 3; from row 2: 3.
    # B from row 4: 10 + .5 * 20, truncated: bootstrap from B's final obs 22, discount .25;
    # from row 5: 20, discount .5. C from row 7: 100, bootstrap from the latest obs 31.
    np.testing.assert_allclose(batch.reward, [2.75, 3.5, 3.0, 20.0, 20.0, 100.0])
    np.testing.assert_array_equal(batch.terminated, [1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(batch.next_obs[:, 0], [13, 13, 13, 22, 22, 31])
    np.testing.assert_allclose(batch.discount, [0.125, 0.25, 0.5, 0.25, 0.5, 0.5])
    np.testing.assert_array_equal(batch.obs[:, 0], [10, 11, 12, 20, 21, 30])


def test_n_step_sums_across_the_ring_wrap_around():
    buffer = ReplayBuffer(5, obs_dim=1, action_dim=1)
    for t in range(7):  # one episode of 7 steps in 5 rows: rows 2, 3, 4, 0, 1 hold steps 2-6
        buffer.add(obs(t), np.zeros(1), float(t), False, False, obs(t + 1))
    batch = buffer.transitions(np.array([3, 4, 0]), n_step=3, gamma=GAMMA)
    # row 3 (step 3): 3 + .5 * 4 + .25 * 5, next obs 6 (row 1); row 4 (step 4) wraps to rows 0
    # and 1: 4 + .5 * 5 + .25 * 6, next obs 7 (row 2); row 0 (step 5) stops at the newest row:
    # 5 + .5 * 6, bootstrapping from obs 7 with discount .25.
    np.testing.assert_allclose(batch.reward, [6.25, 8.0, 8.0])
    np.testing.assert_array_equal(batch.next_obs[:, 0], [6, 7, 7])
    np.testing.assert_allclose(batch.discount, [0.125, 0.125, 0.25])


def test_one_step_is_the_plain_transition():
    buffer = filled()
    idx = np.array([0, 4, 5, 7])
    plain, one = buffer.transitions(idx), buffer.transitions(idx, n_step=1, gamma=GAMMA)
    assert type(one) is Batch
    for a, b in zip(plain, one):
        np.testing.assert_array_equal(a, b)


def test_seed_buffers_use_each_seeds_gamma():
    buffers = ReplayBuffers(16, 1, 1, seeds=[0, 1])
    alone = [filled(), filled()]
    for b in alone:
        b.rng = np.random.default_rng(0)
    for i, b in enumerate(buffers.buffers):
        b.load_state_dict(alone[i].state_dict())
        b.rng = np.random.default_rng(0)
    batch = buffers.sample(4, 2, n_step=3, gammas=np.array([0.5, 0.9]))
    for i, gamma in enumerate([0.5, 0.9]):
        want = alone[i].sample(4, 2, n_step=3, gamma=gamma)
        for got, expected in zip(batch, want):
            np.testing.assert_allclose(got[i], expected)


def test_the_backup_discounts_by_the_batch_discount():
    config = small_config()
    state = create_state(config, obs_dim=3, action_dim=1)
    rng = np.random.default_rng(0)
    one = Batch(
        *(rng.normal(size=(8,) + s).astype(np.float32) for s in [(3,), (1,), (), (3,)]),
        np.zeros(8, np.float32),
    )
    key = jax.random.PRNGKey(0)
    y_gamma = losses.critic_target(state, one, key)
    quarter = NStepBatch(*one, discount=np.full(8, 0.25, np.float32))
    y_quarter = losses.critic_target(state, quarter, key)
    next_v = (np.asarray(y_gamma) - one.reward) / 0.99  # the bootstrapped value at s'
    np.testing.assert_allclose(y_quarter, one.reward + 0.25 * next_v, rtol=1e-5, atol=1e-5)


def test_training_feeds_n_step_batches_to_the_update(tmp_path, monkeypatch):
    """The loop samples 3-step transitions (discount gamma^3 inside an episode) and the update it
    runs receives them as NStepBatch."""
    discounts, traced = [], []
    sample = ReplayBuffers.sample

    def sample_and_record(self, *args, **kwargs):
        batches = sample(self, *args, **kwargs)
        discounts.append(np.asarray(batches.discount))
        return batches

    def update_and_record(state, batches):
        traced.append(type(batches))
        return update_steps(state, batches)

    monkeypatch.setattr(ReplayBuffers, "sample", sample_and_record)
    config = small_config(n_step=3)
    (result,) = loop.train(config, str(tmp_path), quiet=True, update_fn=update_and_record)
    assert np.isfinite(result["return_mean"])
    assert traced == [NStepBatch]  # traced once, with the n-step batch
    # Pendulum never terminates: every sum spans 3 steps unless it meets a 200-step truncation.
    all_discounts = np.concatenate([d.ravel() for d in discounts])
    assert np.mean(np.isclose(all_discounts, config.gamma**3)) > 0.9
