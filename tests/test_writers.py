"""CsvWriter: a new column widens the header of the rows already written; a rewrite (a wider
header, or the truncation of a resumed run) that fails leaves the old file whole."""

import csv

import pytest

from sac_jax.writers import CsvWriter


def read(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_a_new_column_widens_the_rows_written_and_truncate_drops_later_steps(tmp_path):
    path = str(tmp_path / "train.csv")
    writer = CsvWriter(path)
    writer.write({"step": 1, "critic_loss": 0.5})
    writer.write({"step": 2, "critic_loss": 0.4, "actor_loss": -1.0})
    assert read(path) == [
        ["step", "critic_loss", "actor_loss"],
        ["1", "0.5", ""],
        ["2", "0.4", "-1.0"],
    ]
    CsvWriter(path).truncate(1)
    assert read(path) == [["step", "critic_loss", "actor_loss"], ["1", "0.5", ""]]


def test_a_failed_rewrite_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = str(tmp_path / "eval.csv")
    writer = CsvWriter(path)
    for step in (1, 2, 3):
        writer.write({"step": step, "return_mean": float(step)})
    before = read(path)

    def killed(self, rows):
        raise KeyboardInterrupt  # the process stopped halfway through the rows

    monkeypatch.setattr(csv.DictWriter, "writerows", killed)
    with pytest.raises(KeyboardInterrupt):
        CsvWriter(path).truncate(2)
    assert read(path) == before
