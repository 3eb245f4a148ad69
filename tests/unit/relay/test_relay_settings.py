"""Tests of quicko.relay.settings: flags, QUICKO_* variables, precedence and clear errors."""

from __future__ import annotations

import datetime
import socket
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from quicko.errors import InputError
from quicko.relay.config import RelayConfig
from quicko.relay.settings import (
    SETTINGS,
    build_parser,
    default_public_urls,
    load_config,
    make_ssl_context,
)


def write_self_signed(directory: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_defaults_are_the_configs() -> None:
    assert load_config([], {}) == RelayConfig()


def test_spec_flags_and_variables_exist() -> None:
    flags = {setting.flag: setting.env for setting in SETTINGS}
    for flag in (
        "--host", "--port", "--max-connections", "--max-connections-per-ip", "--connect-rate",
        "--rate", "--burst", "--max-payload", "--buffer-ttl", "--buffer-per-recipient",
        "--buffer-total", "--handshake-timeout", "--idle-timeout", "--call-timeout",
        "--directory-ttl", "--send-queue-bytes", "--tls-cert", "--tls-key", "--node-id",
        "--log-level",
    ):  # fmt: skip
        assert flag in flags
        assert flags[flag] == "QUICKO_" + flag[2:].upper().replace("-", "_")


def test_flags_set_fields_with_units() -> None:
    config = load_config(
        ["--port", "0", "--buffer-ttl", "1.5", "--max-connections", "7", "--node-id", "n1"], {}
    )
    assert (config.port, config.buffer_ttl_s, config.max_connections) == (0, 1.5, 7)
    assert config.node_id == "n1"


def test_environment_sets_fields() -> None:
    env = {"QUICKO_MAX_CONNECTIONS": "5", "QUICKO_IDLE_TIMEOUT": "2", "QUICKO_LOG_LEVEL": "DEBUG"}
    config = load_config([], env)
    assert (config.max_connections, config.idle_timeout_s, config.log_level) == (5, 2.0, "debug")


def test_flag_wins_over_environment_and_empty_variable_is_unset() -> None:
    config = load_config(["--port", "1234"], {"QUICKO_PORT": "4321", "QUICKO_RATE": ""})
    assert config.port == 1234
    assert config.rate == RelayConfig().rate


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--port", "abc"], "argument --port: 'abc' is not a whole number"),
        (["--rate", "nan"], "argument --rate: 'nan' is not a finite number"),
        (["--log-level", "loud"], "argument --log-level: invalid choice"),
    ],
)
def test_bad_flag_is_a_usage_error(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_config(argv, {})
    assert exit_info.value.code == 2
    assert needle in capsys.readouterr().err


def test_bad_environment_variable_names_it() -> None:
    with pytest.raises(InputError, match="QUICKO_MAX_CONNECTIONS: 'lots' is not a whole number"):
        load_config([], {"QUICKO_MAX_CONNECTIONS": "lots"})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--max-connections", "0"], "--max-connections must be positive"),
        (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
    ],
)
def test_out_of_range_values_name_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_config(argv, {})


def test_missing_tls_key_file_is_a_clear_error(tmp_path: Path) -> None:
    cert, _ = write_self_signed(tmp_path)
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(InputError, match=r"--tls-key: no such file: .*nope\.pem"):
        load_config(["--tls-cert", cert, "--tls-key", missing], {})


def test_tls_pair_that_does_not_match_is_a_clear_error(tmp_path: Path) -> None:
    cert, _ = write_self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    _, other_key = write_self_signed(tmp_path / "other")
    with pytest.raises(InputError, match="cannot load the certificate and key") as info:
        make_ssl_context(cert, other_key)
    assert "PRIVATE KEY" not in str(info.value)


def test_valid_tls_pair_loads(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    config = load_config(["--tls-cert", cert, "--tls-key", key], {})
    assert (config.tls_cert, config.tls_key) == (cert, key)
    assert make_ssl_context(cert, key).minimum_version.name == "TLSv1_2"


def test_help_lists_environment_variables() -> None:
    text = build_parser().format_help()
    assert "QUICKO_SEND_QUEUE_BYTES" in text
    assert "--buffer-ttl SECONDS" in text


def test_public_urls_from_repeated_flags_commas_and_the_environment() -> None:
    config = load_config(
        ["--public-url", "WSS://Relay.example/ws", "--public-url", "ws://a:1,ws://[::1]:2"], {}
    )
    assert config.public_urls == ("wss://relay.example:443", "ws://a:1", "ws://[::1]:2")
    env = {"QUICKO_PUBLIC_URLS": "ws://x.example, wss://y.example:8443"}
    assert load_config([], env).public_urls == ("ws://x.example:80", "wss://y.example:8443")
    with pytest.raises(InputError, match="QUICKO_PUBLIC_URLS"):
        load_config([], {"QUICKO_PUBLIC_URLS": "http://x.example"})
    with pytest.raises(SystemExit):
        load_config(["--public-url", "x.example"], {})
    with pytest.raises(ValueError, match="canonical"):
        RelayConfig(public_urls=("ws://x.example",))


def test_default_public_urls_of_the_bound_address() -> None:
    hostname = socket.gethostname().lower()
    assert default_public_urls("0.0.0.0", 9900, tls=False) == (
        "ws://localhost:9900",
        "ws://127.0.0.1:9900",
        "ws://[::1]:9900",
        f"ws://{hostname}:9900",
    )
    assert default_public_urls("127.0.0.1", 4443, tls=True) == (
        "wss://127.0.0.1:4443",
        "wss://localhost:4443",
    )
    assert default_public_urls("relay.example", 80, tls=False) == ("ws://relay.example:80",)


def test_public_cert_sets_the_channel_binding(tmp_path: Path) -> None:
    cert, _ = write_self_signed(tmp_path)
    config = load_config(["--public-cert", cert], {})
    assert len(config.channel_binding) == 32
    with pytest.raises(InputError, match="--public-cert"):
        load_config(["--public-cert", str(tmp_path / "missing.pem")], {})
