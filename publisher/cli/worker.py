"""`publisher worker [--drain] [--poll SECONDS]`."""

from __future__ import annotations

import sys

import click

from publisher.cli import pass_context


@click.command()
@click.option("--drain", is_flag=True, help="Exit once nothing is left to send.")
@click.option("--poll", default=2.0, show_default=True, type=click.FloatRange(min=0.05),
              help="Seconds between looks for newly queued issues.")
@pass_context
def worker(ctx, drain: bool, poll: float) -> None:
    """Send queued deliveries; run any number of workers on any number of machines.

    Issues are queued by `publisher newsletter send --queue-only`, or by `publisher run`
    (which sends too: workers share its work). Each delivery goes out once: workers claim batches under a lease (mail.lease), and a dead
    worker's batch returns to the others when its lease ends. mail.rate_limit holds for all
    workers together. Stops on SIGTERM or Ctrl-C after the messages in flight."""
    import logging
    import signal
    import threading

    from publisher.audience.tokens import tokens_for
    from publisher.mail.transport import make_transport
    from publisher.newsletter.worker import work
    from publisher.store import open_store

    config = ctx.config
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    store = open_store(config)
    try:
        outcome = work(config, store, make_transport(config), tokens_for(config), stop,
                       poll=poll, drain=drain)
    finally:
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"{outcome.sent} sent")
