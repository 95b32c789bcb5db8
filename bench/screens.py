"""Screenshots of the default templates with Debian's headless Chromium, to look at the design.

Builds the site into a temporary folder with site.url pointing at a free local port, serves it
there with `python -m http.server` (the pages link their CSS by absolute URL, and Chromium
applies the feeds' XSL only over http), then shoots the index, an article, a category page and
the Atom and RSS feeds at phone and desktop widths, in light and dark mode.

    python bench/screens.py                 # the sample content of content/
    python bench/screens.py --demo          # plus a few synthetic articles: categories,
                                            # tags, lists, quotes, code, pagination
    python bench/screens.py --only index,atom --widths 375
    python bench/screens.py --demo --only x --page x=2024/11/inflation-pourquoi-les-prix-alimentaires-baissent-si-lentement/

PNGs go to bench/out/screens/ (git-ignored): {page}-{width}-{light|dark}.png.
Dark mode: `--force-dark-mode` plus `--blink-settings=preferredColorScheme=0` makes
`prefers-color-scheme: dark` match. Chromium's "XSLT is being removed" banner is switched off
(`--disable-features=GenerateXSLTWarningBanner`) unless --xslt-banner is given.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
HEIGHTS = {375: 1800, 1280: 1500}

DEMO = {
    "demo-01-inflation.md": """---
title: "Inflation : pourquoi les prix alimentaires baissent si lentement"
date: 2024-11-05 07:30
updated: 2024-11-06 18:00
category: Économie
tags: [prix, consommation, enquête]
---
Les prix des matières premières agricoles ont reculé depuis un an, mais l'addition reste salée au
supermarché. Entre les contrats annuels, les marges de la distribution et le coût de l'énergie,
la baisse met des mois à atteindre les rayons.

## Une chaîne de prix à plusieurs étages

### Des contrats signés une fois par an

Les industriels et les enseignes négocient leurs tarifs lors des « négociations commerciales »
annuelles. Une baisse des cours en avril ne se voit donc qu'au printemps suivant.

> « Le prix en rayon est une photographie prise avec un an de retard. »

Trois facteurs expliquent ce décalage :

1. les contrats pluriannuels d'approvisionnement ;
2. les stocks achetés au prix fort ;
3. le coût de l'énergie et des emballages, qui reste élevé.

### Ce que disent les chiffres

| Produit | Sur un an | Sur trois ans |
|---|---:|---:|
| Huile de tournesol | −18 % | +21 % |
| Pâtes | −4 % | +27 % |
| Café | +9 % | +35 % |

## Et maintenant ?

Les économistes attendent une décrue lente en 2025, à condition que l'énergie reste stable.
""",
    "demo-02-expo.md": """---
title: "Au musée d'Orsay, la couleur comme manifeste"
date: 2024-11-04 09:00
category: Culture
tags: [exposition, peinture]
---
Une exposition ambitieuse réunit cent vingt toiles autour d'une idée simple : la couleur n'est
pas un décor, c'est un argument. Visite guidée, salle par salle.

## Salle 1 : la lumière avant tout

Les premières salles rappellent que les impressionnistes peignaient dehors, *sur le motif*,
avec des tubes de couleur tout juste inventés.

## Salle 2 : le choc des complémentaires

Le parcours culmine avec les toiles fauves, où le vert répond au rouge sans nuance.
""",
    "demo-03-climat.md": """---
title: "Le climat en dix graphiques, et ce qu'ils ne disent pas"
date: 2024-11-03 12:00
category: Sciences
tags: [climat, données]
---
Températures, glaciers, niveau des mers : les indicateurs du climat sont bien documentés.
Leur lecture demande pourtant quelques précautions.

## Lire une courbe de température

Une anomalie se mesure par rapport à une période de référence, par exemple `1850-1900`.

```
anomalie = température observée − moyenne de référence
```

- Une moyenne glissante lisse les variations d'une année à l'autre.
- L'échelle verticale peut exagérer ou écraser la tendance.
""",
    "demo-04-municipales.md": """---
title: "Municipales : ce qui change pour les petites communes"
date: 2024-10-28 08:00
category: Politique
---
Le scrutin de liste paritaire s'étend aux communes de moins de mille habitants. Explications.

## Une réforme attendue depuis longtemps

Les maires des petites communes réclamaient une simplification des règles électorales.
""",
    "demo-05-budget.md": """---
title: "Budget 2025 : les cinq mesures qui vont peser sur votre portefeuille"
date: 2024-10-21 08:00
category: Économie
---
Impôt sur le revenu, taxe sur l'électricité, franchises médicales : tour d'horizon.

## L'électricité plus chère

La taxe intérieure sur la consommation finale d'électricité revient à son niveau d'avant-crise.
""",
    "demo-06-roman.md": """---
title: "Rentrée littéraire : cinq premiers romans à ne pas manquer"
date: 2024-10-14 08:00
category: Culture
---
Parmi les quatre cents livres de la rentrée, ces premiers romans ont retenu notre attention.
""",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(work: Path, url: str, demo: bool) -> Path:
    """Build into work/public with site.url = url; return the output folder."""
    source = ROOT / "config.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8")) if source.exists() else {}
    data = data or {}
    content = ROOT / "content"
    if demo:
        content = work / "content"
        shutil.copytree(ROOT / "content", content)
        for name, text in DEMO.items():
            (content / name).write_text(text, encoding="utf-8")
        data.setdefault("pages", {})["per_page"] = 4
    data.setdefault("paths", {}).update(
        content=str(content), templates=str(ROOT / "templates"),
        output=str(work / "public"), var=str(work / "var"))
    data.setdefault("build", {})["cache"] = False
    cfg = work / "config.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PUBLISHER_SITE_URL": url}
    env.pop("PUBLISHER_CONFIG", None)
    subprocess.run([sys.executable, "-m", "publisher", "--config", str(cfg), "build", "--full"],
                   check=True, env=env, cwd=work)
    return work / "public"


def targets(out: Path) -> dict[str, str]:
    """name -> path (relative to the site root) of each page to shoot."""
    index = (out / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'class="teaser-title"><a href="([^"]+)"', index)
    if not links:  # older templates
        links = re.findall(r'<h2><a href="([^"]+)"', index)
    found = {"index": ""}
    pages = [link.split("/", 3)[3] for link in links]
    pages += [p.parent.relative_to(out).as_posix() + "/" for p in out.glob("[0-9][0-9][0-9][0-9]/**/index.html")]
    if pages:  # the longest article shows the most of the body styles (h2, h3, lists...)
        found["article"] = max(pages, key=lambda p: (out / p / "index.html").stat().st_size)
    categories = sorted(p.parent for p in (out / "category").glob("*/index.html"))
    if categories:
        found["category"] = categories[0].relative_to(out).as_posix() + "/"
    if (out / "page/2/index.html").exists():
        found["page2"] = "page/2/"
    for kind, name in (("atom", "all.atom.xml"), ("rss", "all.rss.xml")):
        if (out / "feeds" / name).exists():
            found[kind] = f"feeds/{name}"
    return found


def shoot(url: str, png: Path, width: int, height: int, dark: bool, banner: bool) -> str:
    profile = tempfile.mkdtemp(prefix="screens-chromium-")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
           f"--window-size={width},{height}", f"--screenshot={png}"]
    if not banner:
        cmd.append("--disable-features=GenerateXSLTWarningBanner")
    if dark:
        cmd += ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
    else:
        cmd += ["--blink-settings=preferredColorScheme=1"]
    try:
        subprocess.run(cmd + [url], check=True, timeout=90,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return png.name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "screens")
    ap.add_argument("--demo", action="store_true", help="add synthetic articles (see DEMO)")
    ap.add_argument("--widths", default="375,1280")
    ap.add_argument("--schemes", default="light,dark")
    ap.add_argument("--only", default="", help="comma-separated page names "
                    "(index, article, category, page2, atom, rss)")
    ap.add_argument("--page", action="append", default=[], metavar="NAME=PATH",
                    help="also shoot this path of the site (repeatable), e.g. "
                    "demo=2024/11/inflation-pourquoi-les-prix-alimentaires-baissent-si-lentement/")
    ap.add_argument("--port", type=int, default=0, help="default: a free port")
    ap.add_argument("--xslt-banner", action="store_true",
                    help="keep Chromium's XSLT deprecation banner")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)

    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}/"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screens-") as tmp:
        out = build(Path(tmp), url, args.demo)
        pages = targets(out)
        pages.update(item.split("=", 1) for item in args.page)
        if args.only:
            wanted = set(args.only.split(","))
            pages = {k: v for k, v in pages.items() if k in wanted}
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
             "--directory", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            jobs = []
            for name, path in pages.items():
                for width in (int(w) for w in args.widths.split(",")):
                    for scheme in args.schemes.split(","):
                        png = args.out / f"{name}-{width}-{scheme}.png"
                        jobs.append((url + path, png, width, HEIGHTS.get(width, 1600),
                                     scheme == "dark", args.xslt_banner))
            with ThreadPoolExecutor(max(1, args.jobs)) as pool:
                for done in pool.map(lambda j: shoot(*j), jobs):
                    print(args.out / done)
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
