"""Sub-command parsers whose arguments are added only when their command is used.

``quicko --help`` lists the sub-commands by name and help line, and ``quicko keygen`` needs
only the ``keygen`` parser: building every other parser would import what their options come
from (the relay's settings, the benchmark's report formats) and cost start-up time to every
command (docs/performance.md, "Start-up"). :func:`add_command` adds a sub-command whose
arguments are added by a ``build`` function: under a :class:`LazySubParsersAction` (what
:func:`quicko.cli.main.build_parser` uses), only when the command is named on the command line;
under plain argparse, at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

__all__ = ["Builder", "LazySubParsersAction", "add_command"]

Builder = Callable[[argparse.ArgumentParser], None]
"""Adds a sub-command's arguments (and its ``handler`` default) to its parser."""


if TYPE_CHECKING:  # generic only in typeshed
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _SubParsers = argparse._SubParsersAction


class LazySubParsersAction(_SubParsers):
    """argparse's sub-parsers action that runs a sub-command's builder when it is selected.

    Help on the parent parser shows each sub-command's help line, which is given when the
    sub-parser is added; the sub-parser's own arguments matter only once it parses (its own
    ``--help`` included), which happens right after this action selects it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # argparse's own signature
        super().__init__(*args, **kwargs)
        self._builders: dict[str, Builder] = {}

    def defer(self, name: str, build: Builder) -> None:
        """Run ``build`` on the sub-parser ``name`` when (and if) it is selected."""
        self._builders[name] = build

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        """Build the selected sub-parser if it is not built yet, then let it parse."""
        if isinstance(values, Sequence) and values:
            build = self._builders.pop(str(values[0]), None)
            if build is not None:
                build(self._name_parser_map[str(values[0])])
        super().__call__(parser, namespace, values, option_string)


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str,
    build: Builder,
) -> None:
    """Add the sub-command ``name``; its arguments are added by ``build`` when it is used.

    Args:
        subparsers: where to add it.
        name: the sub-command's name.
        help: its line in the parent's help.
        description: the first paragraph of its own help.
        build: adds its arguments and its ``handler`` default.
    """
    parser = subparsers.add_parser(name, help=help, description=description)
    if isinstance(subparsers, LazySubParsersAction):
        subparsers.defer(name, build)
    else:
        build(parser)
