"""The job runs' queries: claim a (job, slot) by inserting its row, finish it, read the last.

The unique (job, slot) is the whole coordination between `publisher run` processes: the first
to insert the row of a scheduled slot runs it; the others get an IntegrityError and skip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from publisher.store.tables import job_runs


@dataclass(frozen=True, slots=True)
class JobRun:
    id: int
    job: str
    slot: datetime
    trigger: str
    owner: str
    started: datetime
    status: str  # running, ok, skipped, stopped, error
    summary: str = ""
    finished: datetime | None = None
    seconds: float | None = None


def _run(row) -> JobRun:
    return JobRun(id=row.id, job=row.job, slot=row.slot, trigger=row.trigger, owner=row.owner,
                  started=row.started, status=row.status, summary=row.summary,
                  finished=row.finished, seconds=row.seconds)


class JobRuns:
    engine: Engine

    def claim_run(self, job: str, slot: datetime, trigger: str, owner: str,
                  now: datetime) -> int | None:
        """Insert the run of `job` at `slot`; its id, or None when someone already has it."""
        try:
            with self.engine.begin() as conn:
                return conn.execute(
                    insert(job_runs).values(job=job, slot=slot, trigger=trigger, owner=owner,
                                            started=now, status="running")
                ).inserted_primary_key[0]
        except IntegrityError:
            return None

    def finish_run(self, run_id: int, status: str, summary: str, seconds: float,
                   now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(job_runs).where(job_runs.c.id == run_id).values(
                status=status, summary=summary[:4000], seconds=seconds, finished=now))

    def has_run(self, job: str, slot: datetime) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(select(job_runs.c.id).where(
                job_runs.c.job == job, job_runs.c.slot == slot)).first() is not None

    def first_run_started(self) -> datetime | None:
        """When this database first saw `publisher run` do anything (None: never)."""
        with self.engine.begin() as conn:
            return conn.execute(select(func.min(job_runs.c.started))).scalar()

    def last_runs(self) -> dict[str, JobRun]:
        """The most recent run of each job."""
        newest = (select(job_runs.c.job, func.max(job_runs.c.id).label("id"))
                  .group_by(job_runs.c.job).subquery())
        with self.engine.begin() as conn:
            rows = conn.execute(select(job_runs).join(newest, newest.c.id == job_runs.c.id)).all()
        return {r.job: _run(r) for r in rows}

    def job_history(self, job: str, limit: int = 20) -> list[JobRun]:
        """The last runs of one job, newest first."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(job_runs).where(job_runs.c.job == job)
                                .order_by(job_runs.c.id.desc()).limit(limit)).all()
        return [_run(r) for r in rows]
