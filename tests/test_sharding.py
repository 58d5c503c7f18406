"""Placement over devices and processes: batch-axis sharding equals the unsharded run; two
processes (jax.distributed on CPU) each training one seed equal one process training both, their
run resumes in one process and a one-process run resumes in two; a run sharded over 2 devices
resumes exactly on 1 device."""

import csv
import glob
import os
import shutil
import struct

import jax
import numpy as np
import pytest
from tensorboardX import SummaryWriter
from tensorboardX.proto import event_pb2

from sac_jax import loop
from sac_jax.config import ConfigError, validate
from sac_jax.placement import placement
from sac_jax.plot import read_evals
from sac_jax.writers import read_rows, truncate_logs
from tests.helpers import (
    SUBPROCESS_ENV,
    assert_trees_close,
    restore,
    run_python,
    small_config,
    train_in_two_processes,
)

TWO_DEVICES = {**SUBPROCESS_ENV, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


def returns(workdir, seed, steps=("100", "200", "300")):
    """Seed `seed`'s eval returns at `steps`, from the rows of all of the workdir's processes."""
    rows = read_rows(workdir, "eval.csv")
    picked = [r for r in rows if r["seed"] == str(seed) and r["step"] in steps]
    assert [r["step"] for r in picked] == list(steps)
    return [float(r["return_mean"]) for r in picked]


def assert_resumed_exactly(workdir, two_seeds):
    """Seeds 3 and 4 of a resumed run end as the uninterrupted one-process run: final states, and
    eval returns from the rows of all the workdir's processes."""
    for seed in (3, 4):
        config = small_config(seed=seed)
        resumed = restore(os.path.join(workdir, f"seed{seed}"), config)[1]
        assert_trees_close(resumed, restore(os.path.join(two_seeds, f"seed{seed}"), config)[1])
        np.testing.assert_allclose(returns(workdir, seed), returns(two_seeds, seed), rtol=1e-5)


def test_shard_and_its_divisibility_are_validated():
    with pytest.raises(
        ConfigError, match=r"config.shard='rows' is invalid: must be one of \['seed', 'batch'\]"
    ):
        validate(small_config(shard="rows"))
    with pytest.raises(
        ConfigError, match="batch_size=33 is invalid: with shard='batch' and 2 devices"
    ):
        placement(1, 33, "batch", devices=jax.devices() * 2)


def test_batch_placement_replicates_the_state_and_splits_batches_along_b():
    where = placement(1, 32, "batch", devices=jax.devices() * 2)
    assert tuple(where.per_seed.spec) == () and list(where.seeds) == [0]
    assert tuple(where.batches.spec) == (None, None, "batch")


# CrossQ's batch renormalization takes its statistics over the whole batch, and past the
# warm-up its r and d correct them with the running ones: a split batch must not change either.
CROSSQ = dict(batch_renorm=True, target_update="none", batch_renorm_warmup=50, adam_b1=0.5)


@pytest.mark.parametrize("variant", [{}, CROSSQ], ids=["sac", "crossq"])
def test_one_seed_with_its_batch_split_over_two_devices_matches_unsharded(tmp_path, variant):
    """Same seed, unsharded in this process and batch-sharded in a subprocess with 2 devices; the
    batch means become all-reduces, which may round differently (allclose, not equal)."""
    alone, sharded = str(tmp_path / "alone"), str(tmp_path / "sharded")
    loop.train(small_config(seed=4, **variant), alone, quiet=True)
    out = run_python(
        f"""
        import jax
        from sac_jax import loop
        from sac_jax.placement import placement
        from sac_jax.update import update_steps
        from tests.helpers import small_config
        assert jax.device_count() == 2, jax.devices()
        config = small_config(seed=4, shard="batch", **{variant!r})
        loop.train(config, {sharded!r})
        update = loop.vmap_seeds(update_steps, placement(1, config.batch_size, "batch"))
        print("compiled", update._cache_size())
    """,
        TWO_DEVICES,
    )
    assert "seed 4 on 2 device(s) (batch axis split)" in out
    assert "compiled 1" in out
    config = small_config(seed=4, **variant)
    assert_trees_close(restore(sharded, config)[1], restore(alone, config)[1])
    np.testing.assert_allclose(returns(sharded, 4), returns(alone, 4), rtol=1e-5)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """Seeds 3 and 4 in two processes, stopped at step 150 (a checkpoint step); returns the workdir
    and each process's stdout."""
    tmp_path = tmp_path_factory.mktemp("two_processes")
    workdir = str(tmp_path / "hosts")
    return workdir, train_in_two_processes(tmp_path, workdir, total_steps=150)


def test_two_processes_each_training_one_seed_match_one_process(two_processes, two_seeds):
    """Process p makes, steps and saves seed 3 + p only, logs to WORKDIR/processP/, and equals the
    one-process 2-seed run; the plot reads both processes' rows as one run."""
    workdir, outs = two_processes
    for p, seed in enumerate((3, 4)):
        assert f"seed {seed} on 2 device(s) (seed axis split), 2 process(es)" in outs[p]
        config = small_config(seed=seed)
        got = restore(os.path.join(workdir, f"seed{seed}"), config)[1]
        assert_trees_close(
            got, restore(os.path.join(two_seeds, f"seed{seed}"), config, step=150)[1]
        )
        process_dir = os.path.join(workdir, f"process{p}")
        assert {r["seed"] for r in read_rows(process_dir, "eval.csv")} == {str(seed)}
        at_100 = [
            returns(d, seed, ["100"]) for d in (process_dir, two_seeds)
        ]  # 150: not in two_seeds
        np.testing.assert_allclose(*at_100, rtol=1e-5)
    assert sorted(os.listdir(workdir)) == [
        ".lock",
        "config.json",
        "curves.png",  # process 0 draws both processes' rows
        "launches.jsonl",
        "process0",
        "process1",
        "seed3",
        "seed4",
    ]
    (curves,) = read_evals(workdir).values()
    assert [list(c.steps) for c in curves] == [[100, 150], [100, 150]]


def test_two_process_run_resumes_in_one_process(two_processes, two_seeds, tmp_path):
    """The 2-process run stopped at step 150, continued here by one ordinary process to 300, equals
    the uninterrupted one-process run. The earlier rows stay in processP/, cut at step 150 (a row
    the stopped run logged after its checkpoint goes); the new ones go to WORKDIR/."""
    workdir = str(tmp_path / "resumed")
    shutil.copytree(two_processes[0], workdir)
    with open(os.path.join(workdir, "process0", "eval.csv"), "a") as f:
        f.write("200,3,0.0,0.0\n")  # as if it had been killed after evaluating past its checkpoint
    loop.train(small_config(seed=3, num_seeds=2), workdir, quiet=True)
    assert_resumed_exactly(workdir, two_seeds)
    steps = {}
    for d in ("process0", "process1", "."):
        with open(os.path.join(workdir, d, "eval.csv"), newline="") as f:
            steps[d] = [r["step"] for r in csv.DictReader(f)]
    assert steps == {
        "process0": ["100", "150"],
        "process1": ["100", "150"],
        ".": ["200", "200", "300", "300"],
    }


def test_one_process_run_resumes_in_two_processes(two_seeds, tmp_path):
    """The other direction: stopped at step 150 in one process, continued to 300 by two, each
    restoring only its own seed's checkpoint; equals the uninterrupted one-process run. The earlier
    rows stay in WORKDIR/, the new ones go to processP/."""
    workdir = str(tmp_path / "resumed")
    loop.train(small_config(seed=3, num_seeds=2, total_steps=150), workdir, quiet=True)
    outs = train_in_two_processes(tmp_path, workdir, total_steps=300)
    for p, seed in enumerate((3, 4)):
        assert f"seed {seed} on 2 device(s) (seed axis split), 2 process(es)" in outs[p]
        assert "resumed at step 150" in outs[p]
        assert {r["step"] for r in read_rows(os.path.join(workdir, f"process{p}"), "eval.csv")} == {
            "200",
            "300",
        }
    assert_resumed_exactly(workdir, two_seeds)


def tensorboard_events(log_dir: str) -> list:
    """Every event of the folder's event files, oldest file first (TFRecord framing: a length, its
    CRC, the record, its CRC)."""
    events = []
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        with open(path, "rb") as f:
            while header := f.read(12):
                record = f.read(struct.unpack("<Q", header[:8])[0])
                f.read(4)
                events.append(event_pb2.Event.FromString(record))
    return events


def test_truncating_another_process_counts_logs_purges_their_tensorboard_events(tmp_path):
    """Rows after the resumed step go, and TensorBoard gets a purge marker (a session START at
    step + 1, which makes it drop the earlier files' events from that step on)."""
    log_dir = str(tmp_path)
    with open(os.path.join(log_dir, "eval.csv"), "w") as f:
        f.write("step,return_mean\n100,1.0\n200,2.0\n")
    with SummaryWriter(log_dir) as tb:
        for step in (100, 200):
            tb.add_scalar("eval/return_mean", step / 100, step)
    truncate_logs(log_dir, 150)
    assert [r["step"] for r in read_rows(log_dir, "eval.csv")] == ["100"]
    *_, last = tensorboard_events(log_dir)
    assert last.session_log.status == event_pb2.SessionLog.START and last.step == 151
    empty = tmp_path / "no_events"
    empty.mkdir()
    truncate_logs(str(empty), 150)  # a folder without events gets none
    assert os.listdir(empty) == []


def test_run_sharded_over_two_devices_resumes_on_one(two_seeds, tmp_path):
    """Stopped at step 150 on 2 devices (a subprocess), continued here on 1: the per-seed
    checkpoints hold host arrays, placed with the resuming run's sharding."""
    workdir = str(tmp_path / "resumed")
    out = run_python(
        f"""
        from sac_jax import loop
        from tests.helpers import small_config
        loop.train(small_config(seed=3, num_seeds=2, total_steps=150), {workdir!r})
    """,
        TWO_DEVICES,
    )
    assert "seeds 3..4 on 2 device(s)" in out
    assert jax.device_count() == 1
    loop.train(small_config(seed=3, num_seeds=2), workdir, quiet=True)
    assert_resumed_exactly(workdir, two_seeds)  # (the row of its stop step, 150, stays)
