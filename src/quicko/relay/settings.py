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
import ipaddress
import math
import os
import re
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Final

from quicko.errors import InputError
from quicko.protocol.auth import canonical_relay_url, tls_channel_binding
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
    "default_public_urls",
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


def _parse_urls(text: str) -> tuple[str, ...]:
    """Comma-separated relay URLs, each in canonical form (``ws://host:port``)."""
    urls = []
    for part in text.split(","):
        if part.strip():
            try:
                urls.append(canonical_relay_url(part))
            except ValueError:
                raise ValueError(f"{part.strip()!r} is not a ws:// or wss:// URL") from None
    if not urls:
        raise ValueError("no URL given")
    return tuple(urls)


def default_public_urls(host: str, port: int, *, tls: bool) -> tuple[str, ...]:
    """The public URLs of a relay bound to *host*:*port* when ``--public-url`` is not given.

    A wildcard bind (``0.0.0.0``, ``::`` or empty) answers to ``localhost``, ``127.0.0.1``,
    ``[::1]`` and this machine's host name; a specific address to itself (and a loopback
    address also to ``localhost``). The scheme is ``wss`` under TLS, else ``ws``. This reads
    the host name, so it runs in the I/O shell, once the port is bound.

    Raises:
        ValueError: *port* is 0 (not bound yet) or *host* makes no URL.
    """
    scheme = "wss" if tls else "ws"
    host = host.strip().strip("[]")
    if host in _WILDCARD_HOSTS:
        hosts = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    else:
        hosts = [host]
        try:
            if ipaddress.ip_address(host).is_loopback:
                hosts.append("localhost")
        except ValueError:
            pass
    urls: list[str] = []
    for name in hosts:
        literal = f"[{name}]" if ":" in name else name
        url = canonical_relay_url(f"{scheme}://{literal}:{port}")
        if url not in urls:
            urls.append(url)
    return tuple(urls)


_WILDCARD_HOSTS: Final = frozenset({"", "0.0.0.0", "::"})  # noqa: S104  # names, not a bind


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


#: Fields whose flag may be repeated (each value may also list several, comma-separated).
_LIST_FIELDS: Final = frozenset({"public_urls"})

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
        env = ENV_PREFIX + name.upper()
        parse: Callable[[str], object]
        if field.name in _LIST_FIELDS:
            parse = _parse_urls
            name = name.removesuffix("s")  # --public-url, repeatable; QUICKO_PUBLIC_URLS
        elif isinstance(default, bool) or not isinstance(default, int | float):
            parse = _parse_str
        elif isinstance(default, int):
            parse = _parse_int
        else:
            parse = _parse_float
        settings.append(
            Setting(
                field=field.name,
                flag="--" + name.replace("_", "-"),
                env=env,
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
        default = setting.default
        if default is None:
            default = "random short hex" if setting.field == "node_id" else "none"
        kwargs: dict[str, object] = {}
        if setting.field == "log_level":
            kwargs["choices"] = tuple(LEVELS)
        else:
            kwargs["metavar"] = _metavar(setting)
        if setting.field in _LIST_FIELDS:
            kwargs["action"] = "extend"
            default = "the bound address's URLs" if not setting.default else setting.default
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
    special = {
        "tls_cert": "FILE",
        "tls_key": "FILE",
        "public_cert": "FILE",
        "host": "ADDRESS",
        "node_id": "ID",
        "public_urls": "URL",
    }
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
        if isinstance(value, list):  # a repeatable flag
            value = tuple(value)
        if value is not None:
            values[setting.field] = value
    try:
        config = RelayConfig(**values)  # type: ignore[arg-type]  # each parser gives the field's type
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid relay setting: {_flag_words(str(exc))}") from None
    if config.tls_cert is not None and config.tls_key is not None:
        make_ssl_context(config.tls_cert, config.tls_key)  # fail at start-up, not at first use
    # The binding Hellos sign: the certificate clients see (--public-cert when TLS ends in
    # front of the relay, else --tls-cert); none for ws://.
    public_cert = config.public_cert or config.tls_cert
    if public_cert is not None:
        binding = tls_channel_binding(certificate_der(public_cert, flag=_cert_flag(config)))
        config = dataclasses.replace(config, channel_binding=binding)
    return config


def _cert_flag(config: RelayConfig) -> str:
    return "--public-cert" if config.public_cert else "--tls-cert"


def certificate_der(cert_file: str, *, flag: str = "--tls-cert") -> bytes:
    """The DER bytes of the first (leaf) certificate in a PEM file, for the channel binding.

    Raises:
        InputError: the file cannot be read or holds no PEM certificate (named as *flag*).
    """
    try:
        with open(cert_file, encoding="ascii", errors="replace") as pem:
            text = pem.read()
    except OSError:
        raise InputError(f"{flag}: cannot read {cert_file}") from None
    end_marker = "-----END CERTIFICATE-----"
    start = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find(end_marker, start)
    if start < 0 or end < 0:
        raise InputError(f"{flag}: no PEM certificate in {cert_file}")
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
