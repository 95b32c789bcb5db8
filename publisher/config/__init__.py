"""config.yaml + environment -> one validated, frozen Config; every problem reported at once."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from publisher.config.delivery import Mail, Schedule, Web
from publisher.config.sections import (
    Build,
    Feeds,
    Newsletter,
    Pages,
    Paths,
    Podcast,
    Site,
    Theme,
    _Section,
)
from publisher.errors import ConfigError

__all__ = ["DEFAULT_CONFIG", "Build", "Config", "Feeds", "Mail", "Newsletter", "Pages", "Paths",
           "Podcast", "Schedule", "Site", "Theme", "Web", "load_config", "parse_config"]

DEFAULT_CONFIG = "config.yaml"


class Config(_Section):
    site: Site = Site()
    paths: Paths = Paths()
    feeds: Feeds = Feeds()
    pages: Pages = Pages()
    build: Build = Build()
    theme: Theme = Theme()
    newsletter: Newsletter = Newsletter()
    mail: Mail = Mail()
    web: Web = Web()
    schedule: Schedule = Schedule()
    database_url: str | None = None  # default: SQLite under paths.var
    root: Path = Path(".")  # folder of config.yaml; relative paths resolve against it

    def path(self, name: str) -> Path:
        return _resolve(self.root, getattr(self.paths, name))


@lru_cache(maxsize=64)
def _resolve(root: Path, relative: str) -> Path:
    return (root / relative).resolve()  # resolve() stats every component: once is enough


ENV_OVERRIDES = {
    "PUBLISHER_SITE_URL": ("site", "url"),
    "PUBLISHER_DATABASE_URL": ("database_url",),
    "PUBLISHER_SMTP_URL": ("mail", "smtp_url"),
    "PUBLISHER_SMTP_PASSWORD": ("mail", "password"),
}


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    explicit = path is not None or "PUBLISHER_CONFIG" in env
    cfg_path = Path(path if path is not None else env.get("PUBLISHER_CONFIG", DEFAULT_CONFIG))
    text = ""
    if cfg_path.exists():
        text = cfg_path.read_text(encoding="utf-8")
    elif explicit:
        raise ConfigError([f"{cfg_path}: no such config file"])
    return parse_config(text, str(cfg_path), cfg_path.resolve().parent, env)


def parse_config(text: str, name: str, root: Path, env: dict[str, str]) -> Config:
    try:
        node = yaml.compose(text) if text.strip() else None
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{name}{line}: not valid YAML: {problem}"]) from None
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError([f"{name}:1: the top level must be a mapping of keys"])
    from_env = {}
    for var, keys in ENV_OVERRIDES.items():
        if env.get(var):
            from_env[keys] = var
            target = data
            for key in keys[:-1]:
                target = target.setdefault(key, {}) if isinstance(target.get(key, {}), dict) else {}
            target[keys[-1]] = env[var]
    data["root"] = root
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(err, name, node, from_env) for err in exc.errors()]) from None


def _describe(err: Any, name: str, node: Any, from_env: dict[tuple, str]) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    line = _line_of(node, loc)
    where = f"{name}:{line}" if line else name
    if tuple(loc) in from_env:  # the value came from the environment, not from the file
        where = f"environment variable {from_env[tuple(loc)]}"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key '{key}'"
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (got {_masked(loc, value)!r})"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: key '{key}': {msg}{shown}"


def _masked(loc: list[str], value: Any) -> Any:
    """A value fit to print: never a password, nor the password inside a URL."""
    if any("password" in part or "secret" in part for part in loc):
        return "***"
    if isinstance(value, str):
        return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", value)
    return value


def _line_of(node: Any, loc: list[str]) -> int | None:
    """Line of a key in the YAML source, so the message points where the user must look."""
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if k.value == part:
                line, node = k.start_mark.line + 1, v
                break
        else:
            break
    return line
