"""Fault injection at full size on the real dev server, counted at the fakes by idempotency key.

    .venv/bin/python bench/faults.py [--runs 200] [--workers 3] [--kills 20] [--outage 60] [--keep DIR]

200 fast onboardings (tests/e2e/fast_playbooks: a Slack message, four emails and a task on day 0)
on 3 `csr worker` processes sharing one DATA_DIR and task queue, while: 20 random workers are
SIGKILLed at random moments and restarted; the dev server (its database in a file) is SIGKILLed and
restarted mid-run; SendGrid answers 429s with its rate-limit headers, then 500s for a minute, then
recovers; one recipient answers 400; Slack answers one 429 with Retry-After. Prints the tally and
exits 1 if a run did not complete, an email was lost or sent twice, a task is missing or doubled,
a Slack message is missing, or a Slack retry came before its Retry-After. The bounded version runs
in the suite: tests/e2e/test_faults.py (tests/e2e/fault_injection.py is shared)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "e2e")]  # the fakes and the shared harness

from fault_injection import FaultPlan, run_faults  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds of SendGrid 500s")
    parser.add_argument("--rate-limited", type=int, default=5, help="SendGrid 429s before the outage")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", type=Path, help="keep the dev server's database, logs and outbox here")
    args = parser.parse_args()
    plan = FaultPlan(
        runs=args.runs,
        workers=args.workers,
        kills=args.kills,
        outage_seconds=args.outage,
        rate_limited=args.rate_limited,
        seed=args.seed,
    )
    say = lambda line: print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)  # noqa: E731
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        run = asyncio.run(run_faults(plan, args.keep, say))
    else:
        with tempfile.TemporaryDirectory(prefix="csr-faults-") as work:
            run = asyncio.run(run_faults(plan, Path(work), say))
    print(run.table())
    return 1 if run.problems else 0


if __name__ == "__main__":
    sys.exit(main())
