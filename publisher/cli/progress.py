"""A rich progress bar that only shows itself when there is enough work to watch."""

from __future__ import annotations

from contextlib import contextmanager

SHOW_FROM = 500  # items: below this the one-line summary is enough


@contextmanager
def progress_bar(console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if total < SHOW_FROM:
            return
        if stage not in tasks:
            if not tasks:
                bar.start()
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()
