"""Run outputs: CSV files, TensorBoard events and a console progress line."""

import csv
import os
import time

from tensorboardX import SummaryWriter

from sac_jax.runs import Run


class CsvWriter:
    """Appends rows to a CSV. A row with a new key rewrites the file once with the wider header."""

    def __init__(self, path: str):
        self.path = path
        self.fields: list[str] = []
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, newline="") as f:
                self.fields = next(csv.reader(f))

    def truncate(self, last_step: int) -> None:
        """Drop rows after `last_step`: a resumed run rewrites them, so none appear twice."""
        if not self.fields:
            return
        self._rewrite([r for r in self._rows() if int(float(r["step"])) <= last_step])

    def _rows(self) -> list[dict]:
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def _rewrite(self, rows: list[dict]) -> None:
        with open(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields)
            w.writeheader()
            w.writerows(rows)

    def write(self, row: dict) -> None:
        new_fields = [k for k in row if k not in self.fields]
        if new_fields:
            rows = self._rows() if self.fields else []
            self.fields += new_fields
            self._rewrite(rows)
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.fields).writerow(row)


class RunWriter:
    """train.csv, eval.csv and TensorBoard event files in one workdir; one row per run, tagged with
    its seed and swept values (`sac_jax.runs.Run.tags`).

    `resume_step`: the step a resumed run continues from. Rows and events logged after it (by the
    run that stopped later than its last checkpoint) are dropped, so no step is logged twice.
    `multi_run`: TensorBoard tags get a `/RUN_NAME` suffix, so each run is its own curve.
    """

    def __init__(self, workdir: str, resume_step: int = 0, multi_run: bool = False):
        self.train = CsvWriter(os.path.join(workdir, "train.csv"))
        self.eval = CsvWriter(os.path.join(workdir, "eval.csv"))
        for csv_writer in (self.train, self.eval):
            csv_writer.truncate(resume_step)
        self.tb = SummaryWriter(workdir, purge_step=resume_step + 1)
        self.multi_run = multi_run

    def _write(self, group: str, csv_writer: CsvWriter, step: int, run: Run, scalars: dict):
        csv_writer.write({"step": step, **run.tags, **scalars})
        suffix = f"/{run.name}" if self.multi_run else ""
        for k, v in scalars.items():
            self.tb.add_scalar(f"{group}/{k}{suffix}", v, step)

    def write_train(self, step: int, run: Run, scalars: dict) -> None:
        self._write("train", self.train, step, run, scalars)

    def write_eval(self, step: int, run: Run, scalars: dict) -> None:
        self._write("eval", self.eval, step, run, scalars)

    def close(self) -> None:
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
