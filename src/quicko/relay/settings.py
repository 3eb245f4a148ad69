"""Command-line flags and ``QUICKO_*`` environment variables → :class:`RelayConfig`.

Every field of :class:`~quicko.relay.config.RelayConfig` is a flag: the field name with dashes,
without its unit suffix (``buffer_ttl_s`` → ``--buffer-ttl``, in seconds), and an environment
variable: ``QUICKO_`` plus the flag upper-cased with underscores (``QUICKO_BUFFER_TTL``). A flag
wins over the environment, which wins over the default. The flags are derived from the dataclass
and their help from its docstring, so a new setting appears here by itself.

Bad values raise :class:`~quicko.errors.InputError` (from the environment, the TLS files or the
configuration's own checks) or make argparse exit with a usage error (from a flag), each with a
message that names the flag or variable and says what is expected.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Final

from quicko.errors import InputError
from quicko.protocol.auth import tls_channel_binding
from quicko.relay.config import RelayConfig
from quicko.relay.logs import LEVELS

__all__ = [
    "ENV_PREFIX",
    "SETTINGS",
    "Setting",
    "add_arguments",
    "build_parser",
    "certificate_der",
    "config_from_args",
    "load_config",
    "make_ssl_context",
]

ENV_PREFIX: Final = "QUICKO_"
"""Prefix of the environment variable of every setting."""

_UNIT_SUFFIXES: Final = ("_s",)
_NAMESPACE_PREFIX: Final = "relay_"


def _parse_int(text: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _parse_float(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _parse_str(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Setting:
    """One relay setting: its config field, flag, environment variable, parser and help.

    Attributes:
        field: the :class:`RelayConfig` field name, such as ``buffer_ttl_s``.
        flag: the command-line flag, such as ``--buffer-ttl``.
        env: the environment variable, such as ``QUICKO_BUFFER_TTL``.
        parse: turns the text of a flag or variable into the field's value; raises
            ``ValueError`` with a message that says what was expected.
        default: the field's default value.
        help: one line for ``--help``.
    """

    field: str
    flag: str
    env: str
    parse: Callable[[str], object]
    default: object
    help: str

    @property
    def dest(self) -> str:
        """The attribute name of the flag in an argparse namespace (prefixed to stay apart)."""
        return _NAMESPACE_PREFIX + self.field


def _attribute_docs(doc: str | None) -> dict[str, str]:
    """Map each ``name: text`` entry of a Google-style ``Attributes:`` section to its text."""
    docs: dict[str, str] = {}
    if not doc or "Attributes:" not in doc:
        return docs
    current = ""
    for line in doc.split("Attributes:", 1)[1].splitlines():
        match = re.match(r"^\s{4,8}(\w+): (.*)$", line)
        if match:
            current = match.group(1)
            docs[current] = match.group(2).strip()
        elif current and line.strip():
            docs[current] += " " + line.strip()
    return docs


#: Config fields computed from other settings, not set by a flag of their own.
_DERIVED_FIELDS: Final = frozenset({"channel_binding"})


def _make_settings() -> tuple[Setting, ...]:
    docs = _attribute_docs(RelayConfig.__doc__)
    settings = []
    for field in fields(RelayConfig):
        if field.name in _DERIVED_FIELDS:
            continue
        default = field.default if field.default is not MISSING else None
        name = field.name
        for suffix in _UNIT_SUFFIXES:
            name = name.removesuffix(suffix)
        parse: Callable[[str], object]
        if isinstance(default, bool) or not isinstance(default, int | float):
            parse = _parse_str
        elif isinstance(default, int):
            parse = _parse_int
        else:
            parse = _parse_float
        settings.append(
            Setting(
                field=field.name,
                flag="--" + name.replace("_", "-"),
                env=ENV_PREFIX + name.upper(),
                parse=parse,
                default=default,
                help=docs.get(field.name, ""),
            )
        )
    return tuple(settings)


SETTINGS: Final[tuple[Setting, ...]] = _make_settings()
"""Every relay setting, in the order of :class:`RelayConfig`'s fields."""


def _argparse_type(setting: Setting) -> Callable[[str], object]:
    def convert(text: str) -> object:
        try:
            return setting.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = setting.flag.lstrip("-")  # argparse names the type in some messages
    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per relay setting to ``parser`` (defaults come later, from the environment)."""
    for setting in SETTINGS:
        default = "random short hex" if setting.default is None else setting.default
        kwargs: dict[str, object] = {}
        if setting.field == "log_level":
            kwargs["choices"] = tuple(LEVELS)
        else:
            kwargs["metavar"] = _metavar(setting)
        text = re.sub(r"\s*\(``--[a-z-]+``\)", "", setting.help).replace("``", "")
        parser.add_argument(
            setting.flag,
            dest=setting.dest,
            type=_argparse_type(setting),
            default=None,
            help=f"{text} [env {setting.env}; default: {default}]".replace("%", "%%"),
            **kwargs,  # type: ignore[arg-type]  # a dict of argparse keywords
        )


def _metavar(setting: Setting) -> str:
    """The placeholder ``--help`` shows for the value of a flag."""
    if setting.field.endswith("_s"):
        return "SECONDS"
    special = {"tls_cert": "FILE", "tls_key": "FILE", "host": "ADDRESS", "node_id": "ID"}
    if setting.field in special:
        return special[setting.field]
    return "N" if setting.parse is not _parse_str else "TEXT"


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser with every relay flag (``quicko relay`` adds them to its own)."""
    parser = argparse.ArgumentParser(prog="quicko relay", description="Run a Quicko2 relay.")
    add_arguments(parser)
    return parser


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> RelayConfig:
    """Build the configuration from parsed flags, then the environment, then the defaults.

    Args:
        args: a namespace from a parser that :func:`add_arguments` has set up.
        environ: the environment (``os.environ`` when ``None``).

    Raises:
        InputError: an environment variable does not parse, a value is out of range, or the
            TLS certificate or key cannot be used; the message names the setting.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for setting in SETTINGS:
        value = getattr(args, setting.dest, None)
        if value is None and env.get(setting.env, "") != "":
            text = env[setting.env]
            if setting.field == "log_level":
                text = text.strip().lower()
            try:
                value = setting.parse(text)
            except ValueError as exc:
                raise InputError(f"environment variable {setting.env}: {exc}") from None
        if value is not None:
            values[setting.field] = value
    try:
        config = RelayConfig(**values)  # type: ignore[arg-type]  # each parser gives the field's type
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid relay setting: {_flag_words(str(exc))}") from None
    if config.tls_cert is not None and config.tls_key is not None:
        make_ssl_context(config.tls_cert, config.tls_key)  # fail at start-up, not at first use
        binding = tls_channel_binding(certificate_der(config.tls_cert))
        config = dataclasses.replace(config, channel_binding=binding)
    return config


def certificate_der(cert_file: str) -> bytes:
    """The DER bytes of the first (leaf) certificate in a PEM file, for the channel binding.

    Raises:
        InputError: the file holds no PEM certificate.
    """
    with open(cert_file, encoding="ascii", errors="replace") as pem:
        text = pem.read()
    end_marker = "-----END CERTIFICATE-----"
    start = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find(end_marker, start)
    if start < 0 or end < 0:
        raise InputError(f"--tls-cert: no PEM certificate in {cert_file}")
    return ssl.PEM_cert_to_DER_cert(text[start : end + len(end_marker)])


def load_config(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> RelayConfig:
    """Parse ``argv`` (relay flags only) and the environment into a configuration.

    Raises:
        InputError: as :func:`config_from_args`.
        SystemExit: a flag is not valid (argparse prints the usage error).
    """
    return config_from_args(build_parser().parse_args(list(argv)), environ)


def make_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or later) from a PEM certificate chain and private key.

    Raises:
        InputError: a file is missing or unreadable, or the pair is not a valid certificate
            and matching key; the message names the flag and never quotes the key.
    """
    for flag, path in (("--tls-cert", cert_file), ("--tls-key", key_file)):
        if not os.path.isfile(path):
            raise InputError(f"{flag}: no such file: {path}")
        if not os.access(path, os.R_OK):
            raise InputError(f"{flag}: file is not readable: {path}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as exc:
        raise InputError(
            "--tls-cert/--tls-key: cannot load the certificate and key "
            f"(PEM files of a certificate chain and its private key are expected): "
            f"{getattr(exc, 'reason', None) or type(exc).__name__}"
        ) from None
    return context


def _flag_words(message: str) -> str:
    """Rewrite config field names in ``message`` as the flags a user typed."""
    flags = {setting.field: setting.flag for setting in SETTINGS}
    pattern = r"\b(" + "|".join(sorted(flags, key=len, reverse=True)) + r")\b"
    return re.sub(pattern, lambda match: flags[match.group(1)], message)
