"""What every ``halbench`` command shares: the help format, global flags, writing records."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written (line breaks kept); required flags say so."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if action.required and action.option_strings and text is not None:
            return f"{text} (required)"
        if action.required and action.option_strings:
            return "(required)"
        return text


def global_flags() -> argparse.ArgumentParser:
    """``-q`` accepted after any subcommand too (``halbench run -q ...``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars"
    )
    return parent


def add_command(
    sub: Any, name: str, *, help: str, description: str, example: str, **kw: Any
) -> Any:
    """A subcommand with a description and an example, accepting the global flags."""
    epilog = example if example.startswith(("example", "examples")) else f"example:\n  {example}"
    return sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=Formatter,
        parents=[global_flags()],
        **kw,
    )


def emit_record(record: Any, output: str | Path, table: str) -> int:
    """Write a record atomically, then print its table and path."""
    from halbench.errors import InputError
    from halbench.io import atomic_write_text

    try:  # checked before the work (check_writable_file); this catches what changed since
        atomic_write_text(output, record.to_json())
    except OSError as exc:
        raise InputError(str(output), f"cannot write --output: {exc.strerror or exc}") from None
    print(table)
    print(f"\nResult record: {output}")
    return 0


def failure_exit(*records: Any, quiet: bool = False) -> int:
    """3 when an item of ``records`` is unscored because something failed (after printing how
    many and the first cause, redacted, on one line); 0 otherwise.

    Items the protocol leaves unscored (``UnscoredItem.kind == "protocol"``) do not count.
    """
    from halbench.redact import redact

    failed = [(r, u) for r in records for u in r.unscored if u.kind == "failed"]
    if not failed:
        return 0
    if quiet:  # data parallel: ranks other than 0 exit alike without printing
        return 3
    rec, first = failed[0]
    cause = " ".join(redact(first.reason).split())
    print(
        f"{len(failed)} item(s) unscored because something failed (exit status 3); "
        f"first: {rec.benchmark} item {first.index}: {cause}"
    )
    return 3


def positionals(argv: list[str]) -> list[str]:
    """The words of a command line that are not options (to find the chosen subcommand)."""
    return [a for a in argv if not a.startswith("-")]


def argv() -> list[str]:
    """The command line as typed, for the record's provenance."""
    return sys.argv[:]


class StoreOnce(argparse.Action):
    """A single-valued option given twice is an error, never a silent override."""

    last: tuple[Any, Any] | None = None  # (namespace, value) of the last assignment

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        if self.last is not None and self.last[0] is namespace:
            raise argparse.ArgumentError(
                self, f"given twice ({self.last[1]} and {values}); it takes one value"
            )
        self.last = (namespace, values)
        setattr(namespace, self.dest, values)


def forbid_repeats(parser: argparse.ArgumentParser) -> None:
    """Make every single-valued option of ``parser`` and its subcommands a ``StoreOnce``."""
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in {id(p): p for p in action.choices.values()}.values():
                forbid_repeats(sub)
        elif type(action) is argparse._StoreAction and action.option_strings:  # noqa: SLF001
            action.__class__ = StoreOnce
