"""How the client connects, as data: plain for the embedded server, TLS with a client certificate
for a secured cluster, an API key (TLS on) for Temporal Cloud."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from csrunner.config.settings import Settings
from csrunner.services.temporal import connect_options

FILES = {
    Path("/certs/client.pem"): b"CERT",
    Path("/certs/client.key"): b"KEY",
    Path("/certs/ca.pem"): b"CA",
}


def test_the_embedded_server_is_plain():
    options = connect_options(Settings(temporal_address="127.0.0.1:7233"), read=FILES.__getitem__)
    assert options == {
        "target_host": "127.0.0.1:7233",
        "namespace": "default",
        "api_key": None,
        "tls": False,
        "data_converter": pydantic_data_converter,
    }


def test_a_client_certificate_its_key_a_ca_and_a_server_name():
    settings = Settings(
        temporal_address="temporal.internal:7233",
        temporal_namespace="cs",
        temporal_tls_cert=Path("/certs/client.pem"),
        temporal_tls_key=Path("/certs/client.key"),
        temporal_tls_ca=Path("/certs/ca.pem"),
        temporal_tls_server_name="temporal.example.com",
    )
    options = connect_options(settings, read=FILES.__getitem__)
    assert options["tls"] == TLSConfig(
        client_cert=b"CERT",
        client_private_key=b"KEY",
        server_root_ca_cert=b"CA",
        domain="temporal.example.com",
    )
    assert options["namespace"] == "cs" and options["api_key"] is None


def test_an_api_key_turns_tls_on_with_the_system_cas():
    settings = Settings(
        temporal_address="us-east-1.aws.api.temporal.io:7233",
        temporal_namespace="cs.a1b2c",
        temporal_api_key="key-1",
    )
    options = connect_options(settings, read=FILES.__getitem__)
    assert options["tls"] is True and options["api_key"] == "key-1"
    assert options["rpc_metadata"] == {"temporal-namespace": "cs.a1b2c"}


def test_a_certificate_that_cannot_be_read_is_one_line_naming_the_variable(tmp_path):
    missing = tmp_path / "client.pem"
    settings = Settings(temporal_tls_cert=missing, temporal_tls_key=missing)
    with pytest.raises(ValueError) as refused:
        connect_options(settings)
    assert str(refused.value) == f"TEMPORAL_TLS_CERT: cannot read {missing}: No such file or directory"
    assert (
        f"TEMPORAL_TLS_CERT: cannot read {missing}: No such file or directory" in settings.startup_problems()
    )
