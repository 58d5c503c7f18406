"""Run outputs: CSV files, TensorBoard events and a console progress line; and reading a run's
CSV rows back, whichever processes wrote them."""

import csv
import os
import time

from tensorboardX import SummaryWriter

from sac_jax.sweep import Trial
from sac_jax.workdir import CSV_LOGS, EVAL_CSV, TRAIN_CSV, has_tb_events, log_files


class CsvWriter:
    """Appends rows to a CSV. A row with a new key rewrites the file once with the wider header."""

    def __init__(self, path: str):
        self.path = path
        self.fields: list[str] = []
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, newline="") as f:
                self.fields = next(csv.reader(f))

    def truncate(self, last_step: int) -> None:
        """Drop rows after `last_step`."""
        if not self.fields:
            return
        self._rewrite([r for r in self._rows() if int(float(r["step"])) <= last_step])

    def _rows(self) -> list[dict]:
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def _rewrite(self, rows: list[dict]) -> None:
        """Write a new file beside, then rename it over the old one: a run killed meanwhile
        leaves the old file whole."""
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields)
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.path)

    def write(self, row: dict) -> None:
        new_fields = [k for k in row if k not in self.fields]
        if new_fields:
            rows = self._rows() if self.fields else []
            self.fields += new_fields
            self._rewrite(rows)
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.fields).writerow(row)


def read_rows(workdir: str, name: str) -> list[dict]:
    """The rows of all `log_files(workdir, name)`, sorted by step (stably: rows of one step keep
    their folder order, so seeds stay in process order)."""
    paths = log_files(workdir, name)
    if not paths:
        raise FileNotFoundError(f"no {name} in {workdir!r} or its processP/ folders")
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            rows += csv.DictReader(f)
    return sorted(rows, key=lambda r: int(r["step"]))


def _truncate_csvs(log_dir: str, last_step: int) -> None:
    for name in CSV_LOGS:
        CsvWriter(os.path.join(log_dir, name)).truncate(last_step)


def truncate_logs(log_dir: str, last_step: int) -> None:
    """Drop what `log_dir` logged after `last_step`, CSV rows and TensorBoard events (a purge marker
    at last_step + 1, which TensorBoard applies to the folder's earlier event files): a resumed run
    rewrites those steps, so none appear twice. For the folders of the run's other process counts;
    `RunWriter` does the same in its own."""
    _truncate_csvs(log_dir, last_step)
    if has_tb_events(log_dir):
        SummaryWriter(log_dir, purge_step=last_step + 1).close()


class RunWriter:
    """train.csv, eval.csv and TensorBoard event files in one folder; one row per trial, tagged
    with its seed and swept values (`sac_jax.sweep.Trial.tags`).

    `resume_step`: the step a resumed run continues from. Rows and events logged after it (by the
    run that stopped later than its last checkpoint) are dropped, so no step is logged twice.
    `multi_run`: TensorBoard tags get a `/TRIAL_NAME` suffix, so each trial is its own curve.
    `wandb`: a `sac_jax.wandb_log.WandbRuns` that gets the same scalars, each trial in its own run.
    """

    def __init__(self, log_dir: str, resume_step: int = 0, multi_run: bool = False, wandb=None):
        _truncate_csvs(log_dir, resume_step)
        self.train = CsvWriter(os.path.join(log_dir, TRAIN_CSV))
        self.eval = CsvWriter(os.path.join(log_dir, EVAL_CSV))
        self.tb = SummaryWriter(log_dir, purge_step=resume_step + 1)
        self.multi_run = multi_run
        self.wandb = wandb

    def _write(self, group: str, csv_writer: CsvWriter, step: int, trial: Trial, scalars: dict):
        csv_writer.write({"step": step, **trial.tags, **scalars})
        suffix = f"/{trial.name}" if self.multi_run else ""
        for k, v in scalars.items():
            self.tb.add_scalar(f"{group}/{k}{suffix}", v, step)
        if self.wandb is not None:
            self.wandb.log(trial, step, {f"{group}/{k}": v for k, v in scalars.items()})

    def write_train(self, step: int, trial: Trial, scalars: dict) -> None:
        self._write("train", self.train, step, trial, scalars)

    def write_eval(self, step: int, trial: Trial, scalars: dict) -> None:
        self._write("eval", self.eval, step, trial, scalars)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.tb.close()


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:d}:{m:02d}:{s:02d}"


class Progress:
    """Console line: step, steps/s over the last interval, ETA, last eval return, alpha."""

    def __init__(self, total_steps: int, start_step: int = 0):
        self.total = total_steps
        self.last_step, self.last_time = start_step, time.perf_counter()

    def rate(self, step: int) -> float:
        now = time.perf_counter()
        sps = (step - self.last_step) / max(now - self.last_time, 1e-9)
        self.last_step, self.last_time = step, now
        return sps

    def line(self, step: int, sps: float, eval_return: float | None, alpha: float | None) -> str:
        parts = [
            f"step {step}/{self.total}",
            f"{sps:,.0f} steps/s",
            f"ETA {format_duration((self.total - step) / max(sps, 1e-9))}",
        ]
        if eval_return is not None:
            parts.append(f"eval return {eval_return:.1f}")
        if alpha is not None:
            parts.append(f"alpha {alpha:.4f}")
        return " | ".join(parts)
