"""The CSV import of health scores (`csr import-scores`), in bounded memory.

The file is read as a stream, twice: first every line is checked (nothing is sent unless the
whole file is valid; the first 20 problems are reported with a count of the rest), then rows
are sent in chunks, each account's rows of a chunk as one batch. A batch goes by
update-with-start: it starts the journey if there is none, and the call returns when the journey
has *applied* it, with what it did (band, plays started, alerts). No polling, and the summary is
complete when the last journey has answered.
"""

from __future__ import annotations

import asyncio
import csv
import io
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from temporalio.client import Client

from csrunner.config.facts import facts_schema
from csrunner.config.settings import Settings
from csrunner.domain.journey_messages import Applied, ScoreUpdate
from csrunner.domain.values import check_account_id

RESERVED = {"account_id", "score", "at", "source"}
MAX_ERRORS = 20  # reported one by one; the rest are counted
CHUNK_ROWS = 5000  # rows held at once while sending
MAX_FILE_MB = 200


@dataclass
class ScoreRow:
    line: int
    account_id: str
    update: ScoreUpdate


def check_file(path: str | Path, max_mb: float = MAX_FILE_MB) -> None:
    """One clear line for what is not an importable file."""
    try:
        st = Path(path).stat()
    except OSError as e:
        raise ValueError(f"{path}: cannot read it: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path}: not a regular file (a pipe, a device or a directory cannot be imported)")
    if st.st_size > max_mb * 1_000_000:
        raise ValueError(f"{path}: {st.st_size / 1e6:.1f} MB is over the {max_mb:g} MB limit")


@contextmanager
def _open(source: str | Path, text: str | None) -> Iterator[TextIO]:
    if text is not None:
        yield io.StringIO(text)
        return
    with open(source, encoding="utf-8-sig", newline="") as f:
        yield f


def iter_rows(settings: Settings, source: str | Path, text: str | None = None) -> Iterator[ScoreRow | str]:
    """Each data line as a ScoreRow, or as 'file:line: problem'. Streams: one line in memory."""
    from csrunner.services.journeys import check_facts, score_update  # the one validation of an update

    name = str(source)
    declared = set(facts_schema(settings.facts_path).names())  # these columns are account facts
    with _open(source, text) as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "account_id" not in reader.fieldnames:
            raise ValueError(f"{name}:1: the header must have an 'account_id' column")
        for rec in reader:
            line = reader.line_num
            try:
                acc = check_account_id((rec.get("account_id") or "").strip())
                yield ScoreRow(line, acc, _row_update(settings, rec, score_update, check_facts, declared))
            except ValueError as e:
                yield f"{name}:{line}: {e}"


def validate_scores_csv(settings: Settings, source: str | Path, text: str | None = None) -> int:
    """Check every line (streaming); the number of rows, or ValueError with the first
    MAX_ERRORS problems and how many more there are."""
    rows, more, problems = 0, 0, list[str]()
    for r in iter_rows(settings, source, text):
        if isinstance(r, str):
            if len(problems) < MAX_ERRORS:
                problems.append(r)
            else:
                more += 1
        else:
            rows += 1
    if problems:
        total = len(problems) + more
        tail = [f"... and {more} more ({total} lines with problems)"] if more else []
        raise ValueError("\n".join(problems + tail))
    if not rows:
        raise ValueError(f"{source}: no rows")
    return rows


def read_scores_csv(settings: Settings, source: str | Path, text: str | None = None) -> list[ScoreRow]:
    """The rows of a small file or text, all in memory (the import itself streams)."""
    validate_scores_csv(settings, source, text)
    return [r for r in iter_rows(settings, source, text) if isinstance(r, ScoreRow)]


def _value(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _row_update(settings: Settings, rec: dict, score_update, check_facts, declared: set) -> ScoreUpdate:
    if None in rec:
        raise ValueError("more cells than header columns")
    cell = {k: (v or "").strip() for k, v in rec.items()}
    facts = {k: v for k, v in cell.items() if k in declared and k not in RESERVED and v}
    metrics = {k: _value(v) for k, v in cell.items() if k not in RESERVED and k not in declared and v}
    at = None
    if cell.get("at"):
        try:
            at = datetime.fromisoformat(cell["at"])
        except ValueError:
            raise ValueError(f"at must be an ISO-8601 time, got {cell['at']!r}") from None
    score = None
    if cell.get("score"):
        try:
            score = float(cell["score"])
        except ValueError:
            raise ValueError(f"score: score must be a number from 0 to 100, got {cell['score']!r}") from None
    return score_update(
        settings,
        score=score,
        metrics=metrics or None,
        facts=check_facts(settings, facts, text=True) if facts else None,
        at=at,
        source=cell.get("source") or "csv import",
    )


def chunks(rows: Iterable[ScoreRow | str], size: int = CHUNK_ROWS) -> Iterator[dict[str, list[ScoreUpdate]]]:
    """Rows grouped by account, `size` rows at a time (file order kept within an account)."""
    group: dict[str, list[ScoreUpdate]] = {}
    n = 0
    for r in rows:
        if isinstance(r, str):  # validated before: cannot happen unless the file changed meanwhile
            raise ValueError(f"the file changed while it was imported: {r}")
        group.setdefault(r.account_id, []).append(r.update)
        n += 1
        if n >= size:
            yield group
            group, n = {}, 0
    if group:
        yield group


@dataclass
class ImportSummary:
    rows: int
    accounts: int = 0
    seconds: float = 0.0
    bands: dict[str, int] = field(default_factory=dict)  # accounts per band after the import
    band_changes: dict[str, str] = field(default_factory=dict)  # account → "old → new"
    plays_started: list[str] = field(default_factory=list)  # workflow ids
    escalations: int = 0  # trigger alerts the journeys sent
    rejected: int = 0  # updates a journey could not score (the model changed meanwhile)
    waiting_for_deal: list[str] = field(default_factory=list)
    not_processed: list[str] = field(default_factory=list)  # recorded, not applied within --wait


class _Tally:
    """Per account: band before the import and now (bounded by accounts, not rows)."""

    def __init__(self, out: ImportSummary):
        self.out = out
        self.first: dict[str, str] = {}
        self.last: dict[str, str] = {}
        self.waiting: set[str] = set()

    def add(self, a: Applied) -> None:
        self.first.setdefault(a.account_id, a.band_before)
        if a.waiting_for_deal:
            self.waiting.add(a.account_id)
            return
        self.last[a.account_id] = a.band
        self.out.plays_started += a.plays_started
        self.out.escalations += a.alerts
        self.out.rejected += a.rejected

    def finish(self) -> None:
        out = self.out
        pending = set(out.not_processed)
        out.accounts = len(self.first.keys() | pending)
        out.waiting_for_deal = sorted(self.waiting - self.last.keys() - pending)
        for acc, band in self.last.items():
            out.bands[band or "unscored"] = out.bands.get(band or "unscored", 0) + 1
            if self.first[acc] != band:
                out.band_changes[acc] = f"{self.first[acc] or 'unscored'} → {band}"
        out.not_processed = sorted(pending)


async def import_scores(
    client: Client,
    settings: Settings,
    source: str | Path,
    progress: Callable[[int], None] | None = None,
    concurrency: int = 64,
    wait: float = 60.0,
    text: str | None = None,
) -> ImportSummary:
    """Validate the whole file, then send it chunk by chunk (accounts of a chunk concurrently)."""
    from csrunner.services.journeys import apply_batch

    started = time.monotonic()
    out = ImportSummary(rows=validate_scores_csv(settings, source, text))
    tally, gate, run = _Tally(out), asyncio.Semaphore(concurrency), uuid.uuid4().hex[:12]

    async def send(n: int, acc: str, updates: list[ScoreUpdate]) -> None:
        async with gate:
            applied = await apply_batch(client, settings, acc, updates, f"import-{run}-{n}", wait)
        if applied is None:
            out.not_processed.append(acc)
        else:
            tally.add(applied)
        if progress:
            progress(len(updates))

    for n, group in enumerate(chunks(iter_rows(settings, source, text))):
        await asyncio.gather(*(send(n, acc, ups) for acc, ups in group.items()))
    tally.finish()
    out.seconds = round(time.monotonic() - started, 2)
    return out
