"""Provider selection from the configuration, and the one redaction step (pure)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from landlord.providers import (
    ProviderConfigError,
    ProviderError,
    ProviderSpec,
    available,
    load_providers,
    problems,
    register,
    unregister,
)
from landlord.redaction import MASK, RedactingFilter, redact, register_secret


class Ledger:
    """A provider for the tests: it only remembers its settings."""

    name = "ledger"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.closed = False

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def ledger() -> Iterator[ProviderSpec]:
    spec = register(
        ProviderSpec(
            "database",
            "ledger",
            Ledger,
            schema={
                "type": "object",
                "properties": {"url": {"type": "string"}, "password": {"type": "string"}, "pool": {"type": "integer"}},
            },
            credentials=("password",),
        )
    )
    yield spec
    unregister("database", "ledger")


def test_no_provider_means_the_capability_is_off() -> None:
    assert problems("database", None) == []
    assert problems("database", {"provider": None}) == []
    assert list(load_providers({"database": {"provider": None}})) == []


def test_keys_without_a_provider_are_refused() -> None:
    assert problems("dns", {"zone": "x"}) == ["dns.zone: set dns.provider first (the capability is off without it)"]


def test_unknown_provider_names_the_key_and_what_is_available(ledger: ProviderSpec) -> None:
    assert available("database") == ["ledger", "postgresql"]
    assert problems("database", {"provider": "oracle"}) == [
        "database.provider: unknown provider 'oracle'; available: ledger, postgresql"
    ]
    assert problems("dns", {"provider": "bind"}) == [
        "dns.provider: unknown provider 'bind'; available: none in this version"
    ]


def test_unknown_keys_wrong_types_and_missing_credentials_each_name_their_key(ledger: ProviderSpec) -> None:
    found = problems("database", {"provider": "ledger", "urll": "x", "pool": "many"})
    assert found == [
        "database.urll: unknown key; known keys: provider, password, pool, url",
        "database.pool: 'many' is not of type 'integer'",
        "database.password: required by provider 'ledger' and missing; set it",
    ]
    with pytest.raises(ProviderConfigError) as error:
        load_providers({"database": {"provider": "ledger", "urll": "x"}})
    assert "database.password" in str(error.value) and "urll" in str(error.value)


async def test_providers_are_built_and_closed(ledger: ProviderSpec) -> None:
    providers = load_providers({"database": {"provider": "ledger", "password": "pw", "url": "postgresql://h"}})
    built = providers.get("database")
    assert isinstance(built, Ledger) and built.settings == {"password": "pw", "url": "postgresql://h"}
    await providers.close()
    assert built.closed


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("could not connect to postgresql://admin:s3cr3t-Pass@db:5432/x", "s3cr3t-Pass"),
        ("dsn: host=db user=admin password=hunter2xx dbname=x", "hunter2xx"),
        ('{"password": "p@ss-w0rd!", "user": "x"}', "p@ss-w0rd!"),
        ("api_key=AKIA1234567890", "AKIA1234567890"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ("token: ghp_abcdefghijkl", "ghp_abcdefghijkl"),
        ("postgres://app:ab/cd+ef==@db:5432/x", "ab/cd+ef=="),
        ("postgresql://u:p@ss-word@host/db", "ss-word"),
        ('password="a secret phrase" and more', "secret phrase"),
        ("Authorization: token ghp_abcdefghij", "ghp_abcdefghij"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQIBADANBg"),
    ],
)
def test_redaction_masks_credentials(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned and MASK in cleaned


def test_registered_secrets_are_masked_anywhere_and_ordinary_text_is_kept() -> None:
    register_secret("Xq7-generated-password")
    assert redact("login failed for 'Xq7-generated-password'") == f"login failed for '{MASK}'"
    ordinary = "namespace t-acme is being deleted (finalizers: example.com/hold)"
    assert redact(ordinary) == ordinary
    register_secret("abc")  # too short to mask safely: ignored
    assert redact("abc") == "abc"


def test_provider_errors_are_redacted() -> None:
    error = ProviderError("connect to postgresql://u:topsecret1@h failed", retryable=True)
    assert "topsecret1" not in str(error) and "topsecret1" not in error.message


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("landlord.test.redaction")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="landlord.test.redaction"):
        logger.info("retrying %s", "postgresql://admin:pa55word@db/x")
        try:
            raise RuntimeError("password=pa55word rejected")
        except RuntimeError:
            logger.exception("provider failed")
    text = caplog.text
    assert "pa55word" not in text and MASK in text


def test_the_process_wide_record_factory_redacts_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    from landlord.redaction import install_log_redaction

    install_log_redaction()
    install_log_redaction()  # idempotent
    with caplog.at_level(logging.WARNING):
        logging.getLogger("kopf.objects").warning("failed: %s", "postgresql://u:zz-secret-zz@h/db")
    assert "zz-secret-zz" not in caplog.text and MASK in caplog.text


def test_landlord_run_refuses_a_provider_configuration_naming_the_key(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from landlord.cli import main

    config = tmp_path / "landlord.yaml"
    config.write_text("database: {provider: oracle}\ndns: {zone: example.com}\n")
    assert main(["run", "--config", str(config)]) == 2  # before anything connects to a cluster
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "landlord: configuration: database.provider: unknown provider 'oracle'; available: postgresql",
        "landlord: configuration: dns.zone: set dns.provider first (the capability is off without it)",
    ]
