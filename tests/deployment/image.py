"""The Dockerfile, read the way the image builder reads it, and its contract with the manifests.

Multi-stage; the final stage runs as uid 1000, starts `luminate serve` in exec form, and checks
/healthz with the Python standard library (the slim base image has no curl); base images carry a
tag; the build context is an allowlist.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tests.deployment.manifests import REPO
from tests.deployment.problems import Problem

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENTRYPOINT = ["luminate", "serve"]
USER = "1000"


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str

    def exec_form(self) -> list[str] | None:
        try:
            value = json.loads(self.args)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def parse(text: str) -> list[Instruction]:
    """Instructions with their first line; continuations joined, comments dropped."""
    out: list[Instruction] = []
    pending, start = "", 0
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = n
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
        pending = ""
    return out


def check_dockerfile(text: str, rel: str = "Dockerfile") -> list[Problem]:
    instructions = parse(text)
    stages = [i for i in instructions if i.keyword == "FROM"]
    problems = []
    if len(stages) < 2:
        problems.append(Problem(rel, "FROM", "one stage: build in one stage, copy into another"))
    for stage in stages:
        image = stage.args.split()[0]
        if (":" not in image.rsplit("/", 1)[-1] and "@" not in image) or image.endswith(":latest"):
            problems.append(Problem(rel, f"line {stage.line} FROM", f"{image} is not pinned"))
    final = instructions[instructions.index(stages[-1]) :] if stages else instructions

    def last(keyword: str) -> Instruction | None:
        found = [i for i in final if i.keyword == keyword]
        return found[-1] if found else None

    user = last("USER")
    if user is None or user.args.split(":")[0] != USER:
        problems.append(Problem(rel, "USER", f"the final stage must run as uid {USER}"))
    entrypoint = last("ENTRYPOINT")
    if entrypoint is None or entrypoint.exec_form() != ENTRYPOINT:
        problems.append(
            Problem(rel, "ENTRYPOINT", f"must be the exec form {json.dumps(ENTRYPOINT)}")
        )
    health = last("HEALTHCHECK")
    command = healthcheck_command(health) if health else None
    if command is None or command[:1] != ["python"] or "/healthz" not in " ".join(command):
        problems.append(
            Problem(rel, "HEALTHCHECK", 'must be CMD ["python", ...] asking /healthz (exec form)')
        )
    for i in final:
        if i.keyword == "RUN" and re.search(r"\b(curl|wget)\b", i.args):
            problems.append(Problem(rel, f"line {i.line} RUN", "the runtime image fetches nothing"))
    return problems


def healthcheck_command(health: Instruction) -> list[str] | None:
    _, _, rest = health.args.partition("CMD ")
    return Instruction(health.line, "CMD", rest.strip()).exec_form()


def check_dockerignore(text: str, rel: str = ".dockerignore") -> list[Problem]:
    """The context is an allowlist: everything excluded, then the sources the build copies."""
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    problems = []
    if lines[:1] != ["*"]:
        problems.append(Problem(rel, "line 1", "start with `*`: secrets, .venv and .git stay out"))
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for needed in ("pyproject.toml", "requirements.lock", "README.md", "src"):
        if needed not in allowed:
            problems.append(Problem(rel, f"!{needed}", "the build copies it"))
    return problems
