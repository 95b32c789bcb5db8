"""A small publication for the site tests: tagged, authored, illustrated and podcast articles,
an alias, and a Pelican content folder (folder categories, {filename} links, hidden, pages/)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)

PUBLICATION = {
    "episode.md": """---
title: "Épisode 1 : la mer"
date: 2025-03-01 09:00
category: Podcast
tags: [mer, Écologie]
author: Léa Dubois
image: /images/cover.png
enclosure:
  url: /media/episode-1.mp3
  length: 12345678
  type: audio/mpeg
duration: "1:02:03"
aliases: [/old/episode-1/, /ep1.html]
---

Le premier épisode, sur la mer.
""",
    "science.md": """---
title: Zèbres et zébus
date: 2025-02-01
category: Science
tags: [Écologie, zoologie]
author: [Claire Martin, Léa Dubois]
---

Un texte avec une image : ![un zèbre](images/zebre.jpg)
""",
    "economie.md": """---
title: Le budget
date: 2025-01-15
category: Économie
tags: [budget]
---

Des chiffres.
""",
}

PELICAN = {
    "Culture/orsay.md": """Title: À Orsay
Date: 2024-11-12 10:00
Tags: peinture, expositions
Summary: Une exposition
    sur trois lignes
    de résumé.

Voir aussi [le budget]({filename}/Économie/budget.md) et ![photo]({static}/images/orsay.jpg).
""",
    "Économie/budget.md": """Title: Le budget 2025
Date: 2024-11-05
Slug: budget-2025

Des chiffres.
""",
    "Culture/secret.md": """Title: Un brouillon caché
Date: 2024-11-13
Status: hidden

Hors des listes.
""",
    "Culture/wip.md": """Title: En cours
Date: 2024-11-14
Status: draft

Pas encore.
""",
    "pages/about.md": """Title: À propos

Qui nous sommes.
""",
    "notes.rst": """Notes de lecture
################

:date: 2024-10-01 09:00
:category: Lectures
:tags: livres

Un texte en *reStructuredText*.
""",
    "extra/robots.txt": "User-agent: *\nDisallow: /private/\n",
    "images/orsay.jpg": "not really a jpeg",
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def site_config(tmp_path: Path, files: dict[str, str], extra: str = ""):
    """A loaded Config building `files` (content) into tmp_path/public."""
    from conftest import write_config

    from publisher.config import load_config

    write_tree(tmp_path / "content", files)
    return load_config(write_config(tmp_path, extra), env={})
