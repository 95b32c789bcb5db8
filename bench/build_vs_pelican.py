#!/usr/bin/env python3
"""Build speed of `publisher build` beside Pelican's and Hugo's, all measured in the same run.

    .venv/bin/python bench/build_vs_pelican.py [--n 10000] [--skip-pelican] [--skip-hugo]
                                               [--workdir bench/out]

One synthetic corpus (/work/shared/tools/gen_corpus.py, same seed for every tool) is built by:
  * publisher: clean build, rebuild with nothing changed, rebuild after editing one article,
    and `publisher --help`;
  * Pelican 4.12 (in its own virtualenv, bench/.venv-pelican, made on first run): clean build,
    and its content-cached rebuild after editing one article;
  * Hugo (the one on PATH): clean build, with a full-content, unlimited RSS template.
Every command runs as its own child process; for each we report wall time, CPU time (user+sys
of the child and every process it waited for, from os.wait4) and peak memory: the sampled sum
of the proportional set sizes (PSS) of the child's whole process group, so a build that fans
out to worker processes is charged for all of them, and pages they share copy-on-write once.
Only the standard library is used here; the tools' output and logs go under --workdir.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measure import BenchError, Run, measure, median_run  # beside this file

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
GEN_CORPUS = Path("/work/shared/tools/gen_corpus.py")
PELICAN_VENV = BENCH / ".venv-pelican"
PELICAN_REQ = "pelican[markdown]==4.12.*"

# Goals of issue 20 (news-site scale). At 10,000 articles: a clean build at least 2.5x faster
# than Hugo's and 10x faster than Pelican's (wall, same run); at 100,000 (--n 100000): a clean
# build in at most 35 s and 500 MiB, nothing changed 0.5 s, one article edited 1 s, one added
# 1.5 s. Other sizes print the figures beside the 10,000 ratios.
GOAL_VS_HUGO = 2.5
GOAL_VS_PELICAN = 10.0
GOAL_HELP_S = 0.3
LARGE = 100_000
GOAL_LARGE_CLEAN_S = 35.0
GOAL_LARGE_MIB = 500.0
GOAL_NOOP_S = 0.5
GOAL_ONE_EDIT_S = 1.0
GOAL_ONE_ADDED_S = 1.5


# --------------------------------------------------------------------------------------------
# Helpers


def gen_corpus(out: Path, n: int, fmt: str) -> Path:
    clean(out)
    subprocess.run([sys.executable, str(GEN_CORPUS), str(out), str(n), "--format", fmt],
                   check=True)
    os.sync()  # the corpus on disk before a tool reads it, not written back during its build
    return out


def edit_one_article(corpus: Path, n: int, k: int = 2) -> Path:
    """Change the text of one article (number n // k: the middle one by default), as an
    author would."""
    article = next(corpus.glob(f"*-article-{n // k}.md"))
    with article.open("a", encoding="utf-8") as f:
        f.write(f"\nParagraphe ajouté par le banc d'essai à {time.time_ns()}.\n")
    return article


def add_one_article(corpus: Path, n: int, k: int = 0) -> Path:
    """A new article (the k-th), the newest of the site, as a newsroom publishes one."""
    article = corpus / f"2099-01-01-article-{n + k}.md"
    article.write_text(f"---\ntitle: Article ajouté par le banc d'essai {k + 1}\n"
                       f"date: 2025-06-01 12:{k:02}\ncategory: Nouvelles\ntags: [banc]\n---\n\n"
                       f"Un article de plus, écrit à {time.time_ns()}.\n", encoding="utf-8")
    return article


def count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


TRASH: list[Path] = []  # folders moved aside by clean(), deleted by empty_trash()


def clean(*folders: Path) -> None:
    """Move the folders aside (renamed, deleted at the end of the run): on this machine's
    disk (ext4 mounted with `discard`) deleting 15,000 files makes the next few seconds of
    file creation two to four times slower, so a clean build run right after an `rm -rf`
    of its last output paid for that deletion. Every tool's clean build now starts as a
    first build does, in a folder that is not there."""
    for folder in folders:
        if folder.exists():
            aside = folder.with_name(f".trash-{folder.name}-{time.time_ns()}")
            folder.rename(aside)
            TRASH.append(aside)


def empty_trash() -> None:
    while TRASH:
        shutil.rmtree(TRASH.pop(), ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The tools


# The work tree's publisher package, importable even if it is not pip-installed.
OUR_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}


def publisher_cmd() -> list[str]:
    """`publisher` as installed in the environment running this script, else `python -m`."""
    exe = shutil.which("publisher")
    if exe:
        return [exe]
    venv_python = REPO / ".venv" / "bin" / "python"
    return [str(venv_python if venv_python.exists() else sys.executable), "-m", "publisher"]


def bench_ours(work: Path, corpus: Path, n: int) -> list[Run]:
    site, out, var = work / "ours", work / "ours" / "public", work / "ours" / "var"
    site.mkdir(parents=True, exist_ok=True)
    config = site / "config.yaml"
    config.write_text(
        "site:\n"
        '  url: "http://127.0.0.1:8000/"\n'
        '  title: "Bench"\n'
        "paths:\n"
        f'  content: "{corpus}"\n'
        f'  output: "{out}"\n'
        f'  templates: "{REPO / "templates"}"\n'
        f'  var: "{var}"\n',
        encoding="utf-8",
    )
    log = work / "ours.log"
    log.unlink(missing_ok=True)
    build = publisher_cmd() + ["--config", str(config), "build"]

    clean(out, var)
    full = measure(build, "ours: clean build", cwd=site, log=log, env=OUR_ENV)
    full.files = count_files(out)

    def rebuild(label: str) -> Run:
        os.sync()  # the last build's files written back first: they are not this one's cost
        run = measure(build, label, cwd=site, log=log, env=OUR_ENV)
        run.files = count_files(out)
        return run

    noop = median_run([rebuild("ours: rebuild, nothing changed") for _ in range(5)],
                      "ours: rebuild, nothing changed")
    one = []
    for k in (2, 3, 4):  # three different articles, each its own rebuild
        edit_one_article(corpus, n, k)
        one.append(rebuild("ours: rebuild, 1 article edited"))
    added, adds = [], []
    try:
        for k in range(3):  # three new articles, each its own rebuild
            added.append(add_one_article(corpus, n, k))
            adds.append(rebuild("ours: rebuild, 1 article added"))
    finally:
        for article in added:
            article.unlink()  # the other tools build the corpus as generated
    return [full, noop, median_run(one, "ours: rebuild, 1 article edited"),
            median_run(adds, "ours: rebuild, 1 article added")]


def bench_floor(work: Path, corpus: Path) -> list[Run]:
    """bench/floor.py, the required libraries' least work with the parts issue 3 names
    (sanitising, listings, JSON Feed; see its docstring): with markdown-it-py on two cores (the
    renderer the product had when issue 20 was filed), then with pyromark (the product's) on one
    core and on two. The last is the one set beside the goals."""
    log = work / "floor.log"
    log.unlink(missing_ok=True)
    python = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").is_dir() else sys.executable
    runs = []
    for workers, markdown in ((2, "markdown-it"), (1, "pyromark"), (2, "pyromark")):
        out = work / "floor" / "public"
        clean(out)
        label = f"floor + named parts, {markdown}, {workers} process{'es' * (workers > 1)}"
        run = measure([python, str(BENCH / "floor.py"), str(corpus), str(out), "--complete",
                       "--workers", str(workers), "--markdown", markdown],
                      label, log=log, env=OUR_ENV)
        run.files = count_files(out)
        runs.append(run)
    clean(work / "floor")
    return runs


def bench_help(work: Path) -> list[Run]:
    """`publisher --help`: the median of 5 runs (CPU and memory of the fastest)."""
    log = work / "help.log"
    log.unlink(missing_ok=True)
    runs = [measure(publisher_cmd() + ["--help"], "publisher --help", cwd=work, log=log,
                    env=OUR_ENV) for _ in range(5)]
    best = min(runs, key=lambda r: r.wall)
    best.wall = statistics.median(r.wall for r in runs)
    best.label = "publisher --help (median of 5)"
    return [best]


def pelican_venv() -> Path:
    """Pelican's own virtualenv (so its dependencies never meet ours), made on first use."""
    pelican = PELICAN_VENV / "bin" / "pelican"
    if not pelican.exists():
        print(f"creating {PELICAN_VENV} with {PELICAN_REQ} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PELICAN_VENV)], check=True)
        subprocess.run([str(PELICAN_VENV / "bin" / "pip"), "install", "-q", PELICAN_REQ],
                       check=True)
    return pelican


def bench_pelican(work: Path, corpus: Path, n: int) -> list[Run]:
    pelican = pelican_venv()
    site = work / "pelican"
    out, cache = site / "output", site / "cache"
    site.mkdir(parents=True, exist_ok=True)
    log = work / "pelican.log"
    log.unlink(missing_ok=True)
    version = subprocess.run([str(pelican), "--version"], capture_output=True, text=True)
    build = [str(pelican), str(corpus), "-o", str(out), "-s", str(BENCH / "pelican_conf.py"),
             "--cache-path", str(cache)]

    clean(out, cache)
    full = measure(build, f"pelican {version.stdout.strip()}: clean build", cwd=site, log=log)
    full.files = count_files(out)
    edit_one_article(corpus, n)
    one = measure(build, "pelican: cached rebuild, 1 article edited", cwd=site, log=log)
    one.files = count_files(out)
    return [full, one]


def hugo_version() -> tuple[str, tuple[int, ...]]:
    text = subprocess.run(["hugo", "version"], capture_output=True, text=True,
                          check=True).stdout
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", text)
    if not m:
        raise BenchError(f"cannot read Hugo's version from {text!r}")
    return m.group(0), tuple(int(g) for g in m.groups())


def bench_hugo(work: Path, n: int) -> list[Run]:
    if not shutil.which("hugo"):
        raise BenchError("hugo is not on PATH (Debian: apt-get install hugo)")
    label, version = hugo_version()
    site = work / "hugo"
    clean(site)
    shutil.copytree(BENCH / "hugo", site)
    # No item limit in the RSS feeds; the key moved in Hugo 0.114.
    no_limit = "\n[services.rss]\nlimit = -1\n" if version >= (0, 114) else "\nrssLimit = -1\n"
    with (site / "hugo.toml").open("a") as f:
        f.write(no_limit)
    gen_corpus(site / "content" / "posts", n, "hugo")
    log = work / "hugo.log"
    log.unlink(missing_ok=True)
    out = site / "public"
    build = ["hugo", "--source", str(site), "--destination", str(out),
             "--cacheDir", str(site / "cache")]
    full = measure(build, f"hugo {label}: clean build", cwd=site, log=log)
    full.files = count_files(out)
    return [full]


# --------------------------------------------------------------------------------------------
# Report


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(ours: list[Run] | None, help_: list[Run] | None, pelican: list[Run] | None,
           hugo: list[Run] | None, errors: list[str], n: int,
           floor: list[Run] | None = None) -> None:
    rows: list[tuple[Run, str]] = []  # (run, goal text)
    full_ours = ours[0] if ours else None
    full_pel = pelican[0] if pelican else None
    full_hugo = hugo[0] if hugo else None

    if ours:
        full, noop, one, add = ours
        large = n >= LARGE
        goals = []
        if large:
            goals.append(f"<= {GOAL_LARGE_CLEAN_S:g} s: {verdict(full.wall <= GOAL_LARGE_CLEAN_S)}")
            goals.append(f"<= {GOAL_LARGE_MIB:g} MiB: {verdict(full.rss_mib <= GOAL_LARGE_MIB)}")
        if full_hugo:
            need = full_hugo.wall / GOAL_VS_HUGO
            goals.append(f"<= hugo/{GOAL_VS_HUGO:g} = {need:.2f} s: {verdict(full.wall <= need)}")
        if full_pel:
            need = full_pel.wall / GOAL_VS_PELICAN
            goals.append(f"<= pelican/{GOAL_VS_PELICAN:g} = {need:.2f} s: "
                         f"{verdict(full.wall <= need)}")
        rows.append((full, "; ".join(goals)))
        for run, goal in ((noop, GOAL_NOOP_S), (one, GOAL_ONE_EDIT_S), (add, GOAL_ONE_ADDED_S)):
            text = f"<= {goal:g} s at {LARGE:,}: {verdict(run.wall <= goal)}" if large else ""
            rows.append((run, text))
    if help_:
        (run,) = help_
        rows.append((run, f"< {GOAL_HELP_S:g} s: {verdict(run.wall < GOAL_HELP_S)}"))
    for run in (pelican or []) + (hugo or []):
        rows.append((run, ""))
    for run in floor or []:
        goal = ""
        if run is floor[-1]:
            goal = "; ".join(
                f"{run.wall / (other.wall / factor):.2f}x {name}/{factor:g}"
                for name, other, factor in (("pelican", full_pel, GOAL_VS_PELICAN),
                                            ("hugo", full_hugo, GOAL_VS_HUGO)) if other)
        rows.append((run, goal))

    print()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Build benchmark: {n} articles, {os.cpu_count()} CPU cores, "
          f"load average now {load} (other work on the machine skews the numbers)")
    head = f"{'run':<48} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'files':>7}  goal"
    print(head)
    print("-" * len(head))
    for run, goal in rows:
        files = "" if run.files is None else str(run.files)
        print(f"{run.label:<48} {run.wall:>8.2f} {run.cpu:>8.2f} {run.rss_mib:>9.0f} "
              f"{files:>7}  {goal}")

    if full_ours and (full_pel or full_hugo):
        print()
        print("Clean build, other tool / ours (higher is better for us):")
        for name, other in (("pelican", full_pel), ("hugo", full_hugo)):
            if other:
                print(f"  {name + '/ours':<14} wall {full_ours.ratio(other, 'wall'):6.2f}x   "
                      f"CPU {full_ours.ratio(other, 'cpu'):6.2f}x   "
                      f"peak memory {full_ours.ratio(other, 'rss_mib'):6.2f}x")
        if floor and ours:
            print(f"  ours/floor     wall {full_ours.wall / floor[-1].wall:6.2f}x   "
                  f"CPU {full_ours.cpu / floor[-1].cpu:6.2f}x   (what the product costs "
                  "beyond the required libraries' least work)")
        if full_pel and len(pelican) > 1 and ours:
            print(f"  one-article rebuild, pelican (cached)/ours: "
                  f"wall {ours[2].ratio(pelican[1], 'wall'):.2f}x")

    if errors:
        print()
        for err in errors:
            print(f"FAILED {err}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="articles in the corpus (10000)")
    ap.add_argument("--skip-pelican", action="store_true")
    ap.add_argument("--skip-hugo", action="store_true")
    ap.add_argument("--skip-floor", action="store_true",
                    help="skip bench/floor.py, the required libraries' least work")
    ap.add_argument("--workdir", type=Path, default=BENCH / "out",
                    help="corpora, outputs and logs (default bench/out, git-ignored)")
    args = ap.parse_args(argv)
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)

    for stale in work.glob(".trash-*"):  # left by a run that was stopped
        shutil.rmtree(stale, ignore_errors=True)
    print(f"generating {args.n} articles under {work} ...", flush=True)
    corpus = gen_corpus(work / "corpus-md", args.n, "md")

    results: dict[str, list[Run] | None] = dict.fromkeys(
        ["ours", "help", "pelican", "hugo", "floor"])
    errors: list[str] = []
    steps = [("ours", lambda: bench_ours(work, corpus, args.n)),
             ("help", lambda: bench_help(work))]
    if not args.skip_floor:
        steps.append(("floor", lambda: bench_floor(work, corpus)))
    if not args.skip_pelican:
        steps.append(("pelican", lambda: bench_pelican(work, corpus, args.n)))
    if not args.skip_hugo:
        steps.append(("hugo", lambda: bench_hugo(work, args.n)))

    for name, step in steps:
        print(f"running {name} ...", flush=True)
        try:
            results[name] = step()
        except BenchError as exc:
            errors.append(str(exc))

    empty_trash()
    report(results["ours"], results["help"], results["pelican"], results["hugo"], errors, args.n,
           results["floor"])
    print(f"\nlogs: {work}/{{ours,help,pelican,hugo,floor}}.log")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
