"""Serving certificates for HTTPS: a throwaway CA and a server certificate it signs.

Made at start with the `openssl` command (the `cryptography` package is not a dependency):
an EC P-256 CA, and a serving certificate for 127.0.0.1, ::1, localhost and the listen
address. Clients trust the CA (the kubeconfig carries it as `certificate-authority-data`); no
client skips verification. Nothing is kept on disk.
"""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_CONFIG = """\
[req]
distinguished_name = dn
prompt = no

[dn]
CN = landlord-devcluster

[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {names}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


@dataclass(frozen=True)
class Certificates:
    """PEM bytes of the CA certificate, the serving certificate and its private key."""

    ca: bytes
    cert: bytes
    key: bytes

    def server_context(self) -> ssl.SSLContext:
        """The TLS context to serve with (TLS 1.2 or later)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(prefix="landlord-tls-") as folder:
            cert, key = Path(folder) / "tls.crt", Path(folder) / "tls.key"
            cert.write_bytes(self.cert)
            key.touch(mode=0o600)
            key.write_bytes(self.key)
            context.load_cert_chain(cert, key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this CA only (hostnames are checked)."""
        return ssl.create_default_context(cadata=self.ca.decode())


def subject_alt_names(hosts: list[str]) -> str:
    """The subjectAltName value for the given hosts: IP entries for addresses, DNS for names."""
    names: list[str] = []
    for host in hosts:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            entry = f"DNS:{host}"
        else:
            if address.is_unspecified:
                continue  # 0.0.0.0 / :: are listen addresses, not names to connect to
            entry = f"IP:{address}"
        if entry not in names:
            names.append(entry)
    return ",".join(names)


def generate(hosts: list[str], days: int = 365) -> Certificates:
    """A fresh CA and a serving certificate for `hosts` (plus 127.0.0.1, ::1 and localhost)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("TLS serving needs the `openssl` command on PATH to make its certificates")
    names = subject_alt_names(["127.0.0.1", "::1", "localhost", *hosts])
    with tempfile.TemporaryDirectory(prefix="landlord-tls-") as folder:
        work = Path(folder)
        config = work / "openssl.cnf"
        config.write_text(_CONFIG.format(names=names))

        def run(command: str) -> None:
            done = subprocess.run([openssl, *command.split()], cwd=work, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"openssl {command.split()[0]} failed: {done.stderr.strip()}")

        new_key = "-config openssl.cnf -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        ca_subject = "-extensions ca -subj /CN=landlord-devcluster-ca"
        run(f"req -x509 {new_key} {ca_subject} -keyout ca.key -out ca.crt -days {days * 10}")
        run(f"req -new {new_key} -keyout tls.key -out tls.csr")
        sign = "x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -extfile openssl.cnf -extensions server"
        run(f"{sign} -set_serial 0x{secrets.token_hex(16)} -days {days} -out tls.crt")
        return Certificates(
            ca=(work / "ca.crt").read_bytes(),
            cert=(work / "tls.crt").read_bytes(),
            key=(work / "tls.key").read_bytes(),
        )
