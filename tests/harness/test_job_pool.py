"""harness.job_pool: dependencies respected, at most N at a time, a failure named in one line with its log."""

import sys
from dataclasses import dataclass

import pytest

from harness.errors import HarnessError
from harness.job_pool import run_pool


@dataclass(frozen=True)
class J:
    name: str
    code: str
    after: tuple = ()


def _cmd(j):
    return [sys.executable, "-c", j.code]


def test_dependencies_and_parallelism(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    jobs = [
        J("second", f"import pathlib,sys; sys.exit(0 if pathlib.Path({str(a)!r}).exists() else 5)", ("first",)),
        J("first", f"import time,pathlib; time.sleep(0.5); pathlib.Path({str(a)!r}).touch()"),
        J("other", f"import pathlib; pathlib.Path({str(b)!r}).touch()"),
    ]
    done, lines = [], []
    run_pool(jobs, lambda j: set(j.after), _cmd, 2, tmp_path / "logs", lambda j, s: done.append(j.name), lines.append)
    assert done.index("first") < done.index("second") and set(done) == {"first", "second", "other"}
    starts = [ln for ln in lines if ln.startswith("[start]")]
    assert starts[0].startswith("[start] first") and starts[1].startswith("[start] other")  # 'second' waited
    assert b.exists() and (tmp_path / "logs" / "first.log").exists()


def test_failure_is_one_line_with_the_log(tmp_path):
    jobs = [J("bad job", "import sys; print('boom: the reason'); sys.exit(3)"), J("after", "pass", ("bad job",))]
    with pytest.raises(HarnessError, match=r"job 'bad job' failed: boom: the reason \(full log: .*bad_job.log\)"):
        run_pool(jobs, lambda j: set(j.after), _cmd, 2, tmp_path / "logs", echo=lambda s: None)
