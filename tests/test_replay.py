"""The compact replay layout: every sampled (obs, next_obs) pair is what the env returned.

A fake deterministic trajectory encodes (episode, t) in each observation, so every check is an
exact lookup. Which transitions are still stored is computed independently of the ring: rows are
laid out on an unbounded line (one per step, one more per episode end) and the buffer holds the
last `capacity` of them.
"""

import numpy as np
import pytest

from sac_jax import ReplayBuffer

EPISODE_LENGTHS = (5, 1, 7, 3, 12, 2)  # cycled; episode e ends by termination iff e is even


def observation(episode: int, t: int) -> np.ndarray:
    return np.array([episode, t, -1.0], np.float32)


def fill(buffer: ReplayBuffer, steps: int, check_every: int = 0):
    """Drive `buffer` the way the training loop does; return the truth and the live transitions.

    truth[(episode, t)] = (action, reward, next_obs, terminated) as the fake env returned them.
    live: keys of transitions whose two rows are both among the last `capacity` rows written.
    With check_every > 0, sampled pairs are checked against the truth during the fill too.
    """
    truth, position, line_end, written = {}, {}, 0, 0
    episode, t = 0, 0
    obs = observation(episode, t)
    for step in range(1, steps + 1):
        length = EPISODE_LENGTHS[episode % len(EPISODE_LENGTHS)]
        action = np.array([episode / 100, t / 100], np.float32)
        reward = float(1000 * episode + t)
        next_obs = observation(episode, t + 1)
        ended = t + 1 == length
        terminated, truncated = ended and episode % 2 == 0, ended and episode % 2 == 1
        buffer.add(obs, action, reward, terminated, truncated, next_obs)
        truth[(episode, t)] = (action, reward, next_obs, float(terminated))
        position[(episode, t)] = line_end
        written = line_end + 2  # rows of this obs and of next_obs
        line_end += 2 if ended else 1  # an ended episode keeps its final observation in its row
        if ended:
            episode, t = episode + 1, 0
            obs = observation(episode, t)  # env.reset()
        else:
            t, obs = t + 1, next_obs
        if check_every and step % check_every == 0:
            assert_batch_matches(buffer.sample(64), truth, live_keys(position, written, buffer))
    return truth, live_keys(position, written, buffer)


def live_keys(position: dict, written: int, buffer: ReplayBuffer) -> set:
    """Transitions whose obs row is among the last `capacity` rows written (so is its next row)."""
    return {k for k, p in position.items() if p >= written - buffer.capacity}


def keys_of(obs: np.ndarray) -> list[tuple[int, int]]:
    return [(int(e), int(t)) for e, t in obs[:, :2]]


def assert_batch_matches(batch, truth, live):
    keys = keys_of(batch.obs)
    assert set(keys) <= live, f"sampled stale or never-stored transitions {set(keys) - live}"
    for i, key in enumerate(keys):
        action, reward, next_obs, terminated = truth[key]
        np.testing.assert_array_equal(batch.obs[i], observation(*key))
        np.testing.assert_array_equal(batch.action[i], action)
        assert batch.reward[i] == reward
        np.testing.assert_array_equal(batch.next_obs[i], next_obs)
        assert batch.terminated[i] == terminated


@pytest.mark.parametrize("steps", [6, 30, 200, 1000])  # before the ring fills, and after wrapping
def test_sampled_pairs_equal_env_transitions(steps):
    buffer = ReplayBuffer(capacity=37, obs_dim=3, action_dim=2, seed=0)
    truth, live = fill(buffer, steps, check_every=7)
    assert len(buffer) == len(live)
    batch = buffer.sample(4000)
    assert_batch_matches(batch, truth, live)
    assert set(keys_of(batch.obs)) == live  # every stored transition is reachable


def test_episode_ends_keep_their_true_final_observation():
    buffer = ReplayBuffer(capacity=41, obs_dim=3, action_dim=2, seed=1)
    truth, live = fill(buffer, 500)
    batch = buffer.sample(4000)
    ends = {"terminated": 0, "truncated": 0}
    for obs, next_obs, terminated in zip(batch.obs, batch.next_obs, batch.terminated):
        episode, t = int(obs[0]), int(obs[1])
        if t + 1 == EPISODE_LENGTHS[episode % len(EPISODE_LENGTHS)]:
            # the final observation, not the next episode's reset observation
            np.testing.assert_array_equal(next_obs, observation(episode, t + 1))
            assert terminated == float(episode % 2 == 0)  # truncation still bootstraps
            ends["terminated" if terminated else "truncated"] += 1
    assert ends["terminated"] > 0 and ends["truncated"] > 0


@pytest.mark.parametrize(
    "steps", range(58, 78)
)  # wrapped; at 58, 60, 65, 66, 73, 76 an episode ends
def test_a_new_episode_after_end_episode_keeps_every_stored_pair_true(steps):
    """A resume that cannot restore the env's episode closes it with end_episode, mid-episode or
    just after one ended, then starts a new one: every sampleable row is still a true transition."""
    buffer = ReplayBuffer(capacity=23, obs_dim=3, action_dim=2, seed=0)
    truth, _ = fill(buffer, steps)
    buffer.end_episode()
    action = np.zeros(2, np.float32)
    for t in range(3):
        buffer.add(observation(99, t), action, 99.0 + t, False, False, observation(99, t + 1))
        truth[(99, t)] = (action, 99.0 + t, observation(99, t + 1), 0.0)
    rows = np.flatnonzero(buffer.valid)
    assert len(buffer) == len(rows)
    batch = buffer.transitions(rows)
    keys = keys_of(batch.obs)
    assert {(99, 0), (99, 1), (99, 2)} <= set(keys)  # the new episode is sampleable
    for i, key in enumerate(keys):
        np.testing.assert_array_equal(batch.next_obs[i], truth[key][2])


def test_dtypes_and_shapes():
    buffer = ReplayBuffer(capacity=50, obs_dim=3, action_dim=2)
    fill(buffer, 80)
    for shape, batch in (((8,), buffer.sample(8)), ((4, 8), buffer.sample(8, num_batches=4))):
        assert batch.obs.shape == batch.next_obs.shape == (*shape, 3)
        assert batch.action.shape == (*shape, 2)
        assert batch.reward.shape == batch.terminated.shape == shape
        assert all(x.dtype == np.float32 for x in batch)


def test_seeded_sampling_is_reproducible():
    a, b, c = (ReplayBuffer(50, 3, 2, seed=s) for s in (7, 7, 8))
    for buffer in (a, b, c):
        fill(buffer, 120)
    for x, y in zip(a.sample(32, num_batches=3), b.sample(32, num_batches=3)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.sample(32).obs, c.sample(32).obs)


def test_empty_buffer_refuses_to_sample():
    with pytest.raises(ValueError, match="no complete transition"):
        ReplayBuffer(10, 3, 2).sample(4)


def test_humanoid_rows_take_about_half_the_naive_bytes():
    obs_dim, action_dim, rows = 348, 17, 1000
    per_row = ReplayBuffer(rows, obs_dim, action_dim).nbytes / rows
    naive = (
        4 * (2 * obs_dim + action_dim + 2) + 1
    )  # obs, next_obs, action, reward, terminated, truncated
    assert per_row / naive < 0.52
