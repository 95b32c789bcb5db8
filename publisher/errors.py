"""Errors a user can cause. Each carries enough to print one line that names the culprit."""

from __future__ import annotations


class PublisherError(Exception):
    """Base of every error the CLI prints as one line instead of a traceback."""

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.args[0] if self.args else self.__class__.__name__

    def __reduce__(self):
        # Rebuild from the constructor's own arguments, so errors survive the trip back from
        # a build worker process (Exception's default pickling passes only the message).
        return _rebuild, (self.__class__, self.__dict__.copy(), self.args)


def _rebuild(cls, state, args):
    error = Exception.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(PublisherError):
    """One or more problems in config.yaml or the environment, all reported at once."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class ContentError(PublisherError):
    """A content file that cannot become an Article: names the file and the line."""

    def __init__(self, path: str, line: int, message: str):
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}:{line}: {message}")


class TemplateError(PublisherError):
    """A template that fails to render or compile: names the template and the line."""

    def __init__(self, template: str, line: int | None, message: str):
        self.template, self.line, self.message = template, line, message
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {message}")


class DeliveryError(PublisherError):
    """A message that could not be handed to the mail server."""

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None):
        self.permanent, self.code = permanent, code
        super().__init__(message)


def os_error_line(exc: OSError) -> str:
    """One line for a file system fault (read-only or full disk, missing permission): the path
    and the reason, as the user must fix them."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return reason
    where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else f"{exc.filename}"
    return f"{where}: {reason}"
