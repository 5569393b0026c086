"""The CSV import's file side (no Temporal): a big file is streamed (peak memory does not grow
with the file), the first 20 problems are listed with a count of the rest, rows are grouped by
account in bounded chunks, and a non-regular or oversized file is refused with one line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from csrunner.config.settings import Settings
from csrunner.services import score_import

SETTINGS = Settings()
MEASURE = """
import sys, tracemalloc
from csrunner.config.settings import Settings
from csrunner.services import journeys, score_import  # imports are not what is measured
s = Settings()
journeys.default_model(s)
from csrunner.config.facts import facts_schema  # read once per process, like the model
facts_schema(s.facts_path)
tracemalloc.start()
rows = score_import.validate_scores_csv(s, sys.argv[1])
groups = sizes = 0
for chunk in score_import.chunks(score_import.iter_rows(s, sys.argv[1]), size=1000):
    groups += len(chunk)
    sizes += sum(len(u) for u in chunk.values())
print(rows, groups, sizes, tracemalloc.get_traced_memory()[1])
"""


def _csv(path, rows: int):
    pad = "x" * 180  # wide rows: megabytes with few rows keeps the test quick
    with open(path, "w") as f:
        f.write("account_id,score,source\n")
        for i in range(rows):
            f.write(f"acc-{i % 500},{i % 101},{pad}\n")
    return path


def _measure(path) -> tuple[int, ...]:
    """In a fresh interpreter, so nothing else this test run allocated counts."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEASURE), str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return tuple(map(int, out.stdout.split()))


def test_a_big_file_is_checked_and_chunked_in_bounded_memory(tmp_path):
    small, big = _csv(tmp_path / "small.csv", 10_000), _csv(tmp_path / "big.csv", 40_000)
    assert big.stat().st_size > 7_000_000
    rows, groups, sizes, peak_small = _measure(small)
    assert (rows, groups, sizes) == (10_000, 10 * 500, 10_000)
    rows, groups, sizes, peak_big = _measure(big)
    assert (rows, groups, sizes) == (40_000, 40 * 500, 40_000)  # 1,000-row chunks of 500 accounts
    # four times the file, the same peak: one chunk at a time, never the whole file
    assert peak_big < peak_small * 1.25, (peak_small, peak_big)
    # issue 11: updates carry account facts now; the peak per 1,000-row chunk grew (about 1.8 → 3.0
    # MB on this file), still one chunk at a time (the line above), under half the file
    assert peak_big < big.stat().st_size / 2, (peak_small, peak_big)


def test_only_the_first_20_problems_are_listed_with_a_count(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,score\n" + "".join(f"a{i},{200 + i}\n" for i in range(45)))
    with pytest.raises(ValueError) as err:
        score_import.validate_scores_csv(SETTINGS, bad)
    lines = str(err.value).splitlines()
    assert len(lines) == 21
    assert lines[0] == f"{bad}:2: score: score must be a number from 0 to 100, got 200.0"
    assert lines[-1] == "... and 25 more (45 lines with problems)"


def test_a_pipe_or_an_oversized_file_is_refused_in_one_line(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"pipe.csv: not a regular file"):
        score_import.check_file(fifo)
    big = tmp_path / "big.csv"
    big.write_text("account_id,score\n" + "acme,80\n" * 200_000)
    with pytest.raises(ValueError, match=r"big.csv: 1.\d MB is over the 1 MB limit"):
        score_import.check_file(big, max_mb=1)
    score_import.check_file(big, max_mb=2)  # under the cap: accepted
