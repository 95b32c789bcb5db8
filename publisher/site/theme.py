"""The default theme shipped with publisher, and the user's templates over it, file by file.

`paths.templates` need not hold every template: a file it lacks is taken from the default
theme, as Hugo takes a project's layouts over its theme's and Pelican's default theme serves a
site that names none. A site folder with only `content/` and `config.yaml` builds.
"""

from __future__ import annotations

from pathlib import Path

BUILTIN_TEMPLATES = Path(__file__).resolve().parent / "default_theme"


def template_folders(templates: Path | str) -> list[Path]:
    """Where templates are looked up, the user's folder first."""
    own = Path(templates)
    if not BUILTIN_TEMPLATES.is_dir() or (own.is_dir() and own.samefile(BUILTIN_TEMPLATES)):
        return [own]
    return [own, BUILTIN_TEMPLATES]


def theme_files(templates: Path | str) -> dict[str, Path]:
    """Every file of the theme by its path relative to the folder, the user's winning."""
    files: dict[str, Path] = {}
    for folder in reversed(template_folders(templates)):
        if folder.is_dir():
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    files[p.relative_to(folder).as_posix()] = p
    return files
