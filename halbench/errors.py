"""Exceptions that the CLI turns into one clear message and a non-zero exit."""

from __future__ import annotations


class HalbenchError(Exception):
    """Base class for errors a user can act on (printed without a traceback)."""


class InputError(HalbenchError):
    """Bad input data: names the file, the 1-based line (when there is one) and the field.

    ``str(err)`` reads like ``answers.jsonl:17: missing "answer"``.
    """

    def __init__(
        self,
        path: str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}")


class MissingResourceError(HalbenchError):
    """A data resource (NLTK data, annotation file) is missing; the message says how to fix it."""
