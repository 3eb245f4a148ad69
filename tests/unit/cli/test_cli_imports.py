"""What starting ``quicko`` imports: no sub-command pays for another's dependencies.

Start-up *time* is measured by ``quicko bench startup`` (docs/performance.md), never asserted;
what is asserted here is the property that keeps it low: which modules a fresh interpreter has
loaded after the CLI has parsed a command line (``sys.modules``), before any handler runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

import pytest

from quicko.cli._commands import Builder, LazySubParsersAction, add_command

#: Never loaded just to parse a command line: the event loops, the network stacks, the apps'
#: toolkits, the client, the relay's server, the benchmark harness, the cryptography.
HEAVY = (
    "asyncio",
    "uvloop",
    "picows",
    "websockets",
    "PySide6",
    "textual",
    "cryptography",
    "quicko.client",
    "quicko.session",
    "quicko.messaging",
    "quicko.store",
    "quicko.identity",
    "quicko.crypto",
    "quicko.protocol",
    "quicko.relay",
    "quicko.bench",
    "quicko.ui",
    "quicko.tui",
)


def loaded_after(*command_lines: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after parsing each command line with the CLI."""
    code = textwrap.dedent(
        f"""
        import json, sys
        from quicko.cli.main import build_parser
        for argv in {list(command_lines)!r}:
            build_parser().parse_args(argv)
        print(json.dumps(sorted(sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return set(json.loads(done.stdout))


def heavy_among(modules: set[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The modules of ``modules`` that are, or are inside, one of ``heavy``."""
    return sorted(
        name for name in modules if any(name == h or name.startswith(f"{h}.") for h in heavy)
    )


def test_importing_the_cli_loads_no_sub_command_dependency() -> None:
    modules = loaded_after([])
    assert "quicko.cli.main" in modules
    assert heavy_among(modules) == []


def test_parsing_the_light_commands_loads_nothing_heavy() -> None:
    modules = loaded_after(
        ["keygen", "--json"],
        ["recover"],
        ["session", "create", "--json"],
        ["session", "join", "KBQW-E3TV"],
        ["app", "--relay", "ws://127.0.0.1:9"],
        ["chat"],
    )
    assert heavy_among(modules) == []


def test_the_relay_parser_loads_the_settings_but_not_the_server() -> None:
    modules = loaded_after(["relay", "--port", "0"])
    assert "quicko.relay.settings" in modules  # its flags come from the settings
    heavy = ("asyncio", "uvloop", "picows", "quicko.relay.server", "quicko.client", "quicko.bench")
    assert heavy_among(modules, heavy) == []
    # Only what the settings need of the protocol, not every payload class.
    assert "quicko.protocol.payloads" not in modules


def test_the_bench_parsers_load_its_report_formats_but_not_the_harness() -> None:
    modules = loaded_after(["bench", "relay", "--quick"], ["bench", "client"], ["bench", "startup"])
    heavy = ("asyncio", "uvloop", "picows", "cryptography", "quicko.client", "quicko.relay")
    assert heavy_among(modules, heavy) == []
    for harness in ("runner", "procs", "load", "bare", "wire", "clientrun", "clientbench"):
        assert f"quicko.bench.{harness}" not in modules


def test_a_deferred_parser_is_built_only_when_its_command_is_used() -> None:
    built: list[str] = []

    def builder(name: str) -> Builder:
        def build(parser: argparse.ArgumentParser) -> None:
            built.append(name)
            parser.add_argument("--flag", action="store_true")
            parser.set_defaults(handler=name)

        return build

    parser = argparse.ArgumentParser(prog="x")
    subparsers = parser.add_subparsers(dest="command", action=LazySubParsersAction)
    for name in ("one", "two"):
        add_command(subparsers, name, help=f"the {name}", description="", build=builder(name))
    assert "the one" in parser.format_help() and "the two" in parser.format_help()
    assert built == []
    args = parser.parse_args(["two", "--flag"])
    assert built == ["two"] and args.handler == "two" and args.flag
    parser.parse_args(["two"])
    assert built == ["two"]  # built once


def test_without_the_lazy_action_a_parser_is_built_at_once() -> None:
    parser = argparse.ArgumentParser(prog="x")
    subparsers = parser.add_subparsers(dest="command")
    add_command(subparsers, "one", help="", description="",
                build=lambda p: p.set_defaults(handler=1))  # fmt: skip
    assert parser.parse_args(["one"]).handler == 1


def test_help_of_a_deferred_command_shows_its_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from quicko.cli.main import build_parser  # noqa: PLC0415

    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["relay", "--help"])
    assert stop.value.code == 0
    assert "--public-url" in capsys.readouterr().out
