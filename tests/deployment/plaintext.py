"""No plaintext secret anywhere in the repository.

Every file git would commit (tracked, or new and not ignored) is scanned: private key blocks in
any text file; in YAML, Secret objects with data, secretGenerators, env entries and ConfigMap or
generator keys named like a secret that carry a value, and SealedSecret values that are not
kubeseal output; in XML, password elements with text; in Dockerfiles and .env files, secret-like
variables with a value. Names ending in _FILE, _PATH or _DIR name where a secret is, not the
secret, and are allowed.
"""

from __future__ import annotations

import base64
import binascii
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.deployment.manifests import REPO
from tests.deployment.problems import Problem, path

SECRET_NAME = re.compile(
    r"PASSW(OR)?D|SECRET|TOKEN|PRIVATE_?KEY|API_?KEY|CREDENTIAL", re.IGNORECASE
)
REFERENCE_SUFFIX = re.compile(r"_(FILE|PATH|DIR)$", re.IGNORECASE)
PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")
# What the committed SealedSecrets hold until an operator seals the real values into them.
SEALED_PLACEHOLDER = "PLACEHOLDER-seal-with-kubeseal-merge-into"
# kubeseal output: base64 of a 2-byte length, an RSA-encrypted session key (256 bytes or more)
# and the AES-GCM ciphertext.
MIN_SEALED_BYTES = 256
YAML_SUFFIXES = {".yaml", ".yml"}


def secret_like(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not REFERENCE_SUFFIX.search(name)


def repository_files(repo: Path = REPO) -> list[str]:
    """What git would commit: tracked files and new files that are not ignored."""
    result = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    names = {n for n in result.stdout.decode().split("\0") if n}
    return sorted(n for n in names if (repo / n).is_file())


def scan_repository(repo: Path = REPO) -> list[Problem]:
    problems = []
    for rel in repository_files(repo):
        data = (repo / rel).read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        problems.extend(scan_text(rel, data.decode("utf-8", errors="replace")))
    return problems


def scan_text(rel: str, text: str) -> list[Problem]:
    """All problems of one file, judged by its name and content."""
    problems = [
        Problem(rel, f"line {n}", "private key block")
        for n, line in enumerate(text.splitlines(), start=1)
        if PRIVATE_KEY.search(line)
    ]
    name = Path(rel).name
    suffix = Path(rel).suffix
    if suffix in YAML_SUFFIXES:
        problems += scan_yaml(rel, text)
    elif suffix == ".xml":
        problems += scan_xml(rel, text)
    elif name == "Dockerfile" or name.endswith(".dockerfile"):
        problems += scan_assignments(rel, text, r"^\s*(?:ENV|ARG)\s+(.*)$")
    elif name == ".env" or name.endswith(".env"):
        problems += scan_assignments(rel, text, r"^\s*(?:export\s+)?(.*)$")
    return problems


def scan_yaml(rel: str, text: str) -> list[Problem]:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return []  # not YAML this scanner can read (a template); kustomize builds catch the rest
    problems = []
    for doc in docs:
        if isinstance(doc, dict):
            problems += scan_document(rel, doc)
    return problems


def scan_document(rel: str, doc: dict[str, Any]) -> list[Problem]:
    kind = doc.get("kind")
    name = doc.get("metadata", {}).get("name", "") if isinstance(doc.get("metadata"), dict) else ""
    ref = f"{kind}/{name}" if kind else "(document)"
    problems = []
    if kind == "Secret":
        for key in ("data", "stringData"):
            for item, value in (doc.get(key) or {}).items():
                if value:
                    problems.append(
                        Problem(
                            rel,
                            f"{ref} {key}.{item}",
                            "plaintext Secret in the repository: seal it (SealedSecret) or fetch "
                            "it (ExternalSecret)",
                        )
                    )
    if kind == "SealedSecret":
        for item, value in (doc.get("spec", {}).get("encryptedData") or {}).items():
            if not _sealed(str(value)):
                problems.append(
                    Problem(
                        rel,
                        f"{ref} spec.encryptedData.{item}",
                        "not kubeseal output (a plaintext value?); seal it with kubeseal",
                    )
                )
    if kind == "ConfigMap":
        for item, value in (doc.get("data") or {}).items():
            if secret_like(item) and value:
                problems.append(
                    Problem(rel, f"{ref} data.{item}", "a secret in a ConfigMap; use a Secret")
                )
    if kind == "Kustomization":
        problems += _scan_generators(rel, doc)
    for where, entry in _named_values(doc):
        if secret_like(str(entry["name"])) and entry.get("value") not in (None, ""):
            problems.append(
                Problem(
                    rel,
                    f"{ref} {path(*where, 'value')} ({entry['name']})",
                    "a secret as a literal value; use valueFrom.secretKeyRef or a mounted file",
                )
            )
    return problems


def _scan_generators(rel: str, doc: dict[str, Any]) -> list[Problem]:
    problems = []
    for i, generator in enumerate(doc.get("secretGenerator") or []):
        if generator.get("literals") or generator.get("envs") or generator.get("files"):
            problems.append(
                Problem(
                    rel,
                    path("secretGenerator", i),
                    f"secretGenerator {generator.get('name')} builds a Secret from plaintext in "
                    "the repository",
                )
            )
    for i, generator in enumerate(doc.get("configMapGenerator") or []):
        for j, literal in enumerate(generator.get("literals") or []):
            key, _, value = str(literal).partition("=")
            if secret_like(key) and value:
                problems.append(
                    Problem(
                        rel,
                        f"{path('configMapGenerator', i, 'literals', j)} ({key})",
                        "a secret in a ConfigMap literal; use a Secret",
                    )
                )
    return problems


def _named_values(
    node: Any, where: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every {name, value} mapping (environment variable entries) anywhere in a document."""
    if isinstance(node, dict):
        if "name" in node and "value" in node:
            yield where, node
        for key, value in node.items():
            yield from _named_values(value, (*where, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _named_values(value, (*where, i))


def _sealed(value: str) -> bool:
    if value == SEALED_PLACEHOLDER:
        return True
    try:
        return len(base64.b64decode(value, validate=True)) >= MIN_SEALED_BYTES
    except (binascii.Error, ValueError):
        return False


def scan_xml(rel: str, text: str) -> list[Problem]:
    try:
        root = ET.fromstring(text)  # noqa: S314 - the repository's own files
    except ET.ParseError:
        return []
    problems = []

    def walk(element: ET.Element, at: str) -> None:
        here = f"{at}/{element.tag}" if at else element.tag
        if (
            re.search(r"password|secret", element.tag, re.IGNORECASE)
            and (element.text or "").strip()
        ):
            problems.append(Problem(rel, here, "a plaintext password; read it with from_env"))
        for child in element:
            walk(child, here)

    walk(root, "")
    return problems


def scan_assignments(rel: str, text: str, pattern: str) -> list[Problem]:
    problems = []
    for n, line in enumerate(text.splitlines(), start=1):
        found = re.match(pattern, line)
        if not found:
            continue
        for assignment in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", found.group(1)):
            key, value = assignment
            if secret_like(key) and value.strip("\"'"):
                problems.append(Problem(rel, f"line {n} {key}", "a secret with a literal value"))
    return problems
