#!/usr/bin/env python3
"""Checks docker-compose.yml without Docker (run through scripts/check-compose.sh, which
installs PyYAML and jsonschema).

CI has no Docker engine and no compose plugin, so `docker compose config` cannot run. This does
what it would, and the project's own rules on top:

1. the file parses as YAML the way Compose reads it (YAML 1.2 scalars, no duplicate keys) and
   its `${VAR}` interpolation is well formed; every variable is defaulted (`${VAR:-x}`) or
   required with a message (`${VAR:?msg}`); the secrets are required, never defaulted;
2. the interpolated file is valid against the Compose Specification JSON schema, vendored in
   scripts/compose-spec/;
3. every service has a health check (a one-shot job that others wait for with
   `service_completed_successfully` says `disable: true` instead), and every `depends_on` names
   a condition that can be met;
4. only ingest publishes (4317, 4318) and only query-api publishes (8080), host port = container
   port; nothing else reaches the host;
5. every `image:` is one of the pinned official images of scripts/compose-images.txt, or the
   project's own image built from the root Dockerfile (which exists, and whose base images are
   pinned too); bind-mounted files exist;
6. the tandemu roles get only environment variables and flags their subcommand reads: the clap
   definitions in src/cli/*.rs are parsed for their `env = "..."` and `--long` names;
7. the pinned tags exist on Docker Hub, when it answers; otherwise the pinned list is trusted,
   and the output says so.

Prints one OK line, or one line per problem and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

PROG = "check-compose"

# Which role may publish which ports (host port = container port).
PUBLISHED_BY_ROLE = {"ingest": {4317, 4318}, "query-api": {8080}}
# Must be `${VAR:?message}` wherever they are used.
REQUIRED_SECRETS = ("JWT_SECRET", "ENCRYPTION_KEY", "POSTGRES_PASSWORD", "CLICKHOUSE_PASSWORD")
# A variable with such a name is a secret: it may never have a default.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN")
# The image the root Dockerfile builds: a local name, never pulled.
PROJECT_IMAGE = re.compile(r"^tandemu(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")
# Read by the binary's libraries, not by clap: tracing's filter (every role) and sqlx's libpq
# variables (the roles that open PostgreSQL, i.e. read a POSTGRES_URL_ENV variable).
LIBRARY_ENV_ALL = {"RUST_LOG", "RUST_BACKTRACE"}
LIBRARY_ENV_POSTGRES = {
    "PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGDATABASE",
    "PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGAPPNAME", "PGOPTIONS",
}
# Which subcommands open PostgreSQL: those that read one of these.
POSTGRES_URL_ENV = {"DATABASE_URL", "TANDEMU_MIGRATE_DATABASE_URL"}
DEFAULT_HUB = "https://hub.docker.com"


def fail_usage(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# YAML as Compose reads it

class ComposeLoader(yaml.SafeLoader):
    """YAML 1.2 core scalars (Compose is Go's yaml.v3): `on`/`yes`/`no` stay strings and
    `4317:4317` is not a base-60 number. Duplicate keys are an error, as in Compose."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_BOOL, _INT, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
ComposeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ComposeLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
ComposeLoader.add_implicit_resolver(_INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
ComposeLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


# ---------------------------------------------------------------------------------------------
# Interpolation

VAR_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
BRACED = re.compile(r"([_A-Za-z][_A-Za-z0-9]*)(?:(:?[-?+])(.*))?", re.S)


@dataclass
class VarUse:
    name: str
    kind: str  # "required", "default", "alternate"
    where: str
    default: str | None = None


@dataclass
class Interpolator:
    """Compose's `$` syntax: `$$`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
    `${VAR:?message}`, `${VAR?message}`, `${VAR:+alternate}`, `${VAR+alternate}`, `$VAR`. The
    check uses no environment: a default stands for its variable, a required one for itself."""

    errors: list[str]
    uses: list[VarUse] = field(default_factory=list)

    def expand(self, text: str, where: str) -> str:
        out, i = [], 0
        while i < len(text):
            c = text[i]
            if c != "$":
                out.append(c)
                i += 1
                continue
            nxt = text[i + 1 : i + 2]
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt == "{":
                end = self._closing(text, i + 2)
                if end < 0:
                    self.errors.append(f"{where}: unterminated ${{ in {text!r}")
                    return "".join(out)
                out.append(self._braced(text[i + 2 : end], where, text))
                i = end + 1
            elif m := VAR_NAME.match(text, i + 1):
                self.errors.append(
                    f"{where}: ${m.group()} has neither a default nor a required message: write ${{{m.group()}:-default}} or ${{{m.group()}:?message}}"
                )
                out.append(f"<{m.group()}>")
                i = m.end()
            else:
                self.errors.append(f"{where}: a lone $ in {text!r} (write $$ for a literal dollar)")
                i += 1
        return "".join(out)

    @staticmethod
    def _closing(text: str, start: int) -> int:
        depth, j = 1, start
        while j < len(text):
            if text.startswith("${", j):
                depth += 1
                j += 2
                continue
            if text[j] == "}":
                depth -= 1
                if depth == 0:
                    return j
            j += 1
        return -1

    def _braced(self, body: str, where: str, text: str) -> str:
        m = BRACED.fullmatch(body)
        if not m:
            self.errors.append(f"{where}: bad substitution ${{{body}}} in {text!r}")
            return ""
        name, op, rest = m.group(1), m.group(2), m.group(3) or ""
        if op is None:
            self.errors.append(f"{where}: ${{{name}}} has neither a default nor a required message: write ${{{name}:-default}} or ${{{name}:?message}}")
            return f"<{name}>"
        if op in (":-", "-"):
            value = self.expand(rest, where)
            self.uses.append(VarUse(name, "default", where, value))
            return value
        if op in (":?", "?"):
            if not rest.strip():
                self.errors.append(f"{where}: ${{{name}{op}}} needs a message telling the user what to set")
            self.uses.append(VarUse(name, "required", where))
            return f"<{name}>"
        self.expand(rest, where)  # checked, but a check without environment sees VAR unset
        self.uses.append(VarUse(name, "alternate", where))
        return ""

    def walk(self, node, path: str):
        if isinstance(node, str):
            return self.expand(node, path)
        if isinstance(node, dict):
            return {k: self.walk(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self.walk(v, f"{path}[{i}]") for i, v in enumerate(node)]
        return node


def check_variables(uses: list[VarUse], errors: list[str]) -> None:
    by_name: dict[str, list[VarUse]] = {}
    for u in uses:
        by_name.setdefault(u.name, []).append(u)
    for name in REQUIRED_SECRETS:
        if name not in by_name:
            errors.append(f"the secret {name} is not used: give it to the services that need it as ${{{name}:?message}}")
    for name, us in sorted(by_name.items()):
        kinds = {u.kind for u in us}
        if SECRET_NAME.search(name) and kinds - {"required"}:
            where = next(u.where for u in us if u.kind != "required")
            errors.append(f"{where}: {name} is a secret: require it with ${{{name}:?message}}, never give it a default")
        if name in REQUIRED_SECRETS and kinds != {"required"}:
            continue  # reported above
        if len(kinds) > 1:
            errors.append(f"{name} is required in one place and defaulted in another ({', '.join(sorted(u.where for u in us))})")
        defaults = {u.default for u in us if u.kind == "default"}
        if len(defaults) > 1:
            errors.append(f"{name} has different defaults: {', '.join(repr(d) for d in sorted(defaults))}")


# ---------------------------------------------------------------------------------------------
# The CLI: subcommands, their flags and environment variables, from the clap derives

@dataclass
class CliArg:
    field: str
    long: str | None
    env: str | None
    default: str | None
    doc: str
    flatten: str | None  # the flattened struct's name
    subcommand: str | None = None  # the nested subcommand enum's name


@dataclass
class Subcommand:
    name: str
    struct: str
    args: list[tuple[str, CliArg]]  # (the struct that declares it, the arg)

    @property
    def envs(self) -> set[str]:
        return {a.env for _, a in self.args if a.env}

    @property
    def longs(self) -> set[str]:
        return {a.long for _, a in self.args if a.long} | {"help", "version"}


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _items(body: str):
    """(attributes, doc, declaration) per field or variant of a struct or enum body."""
    attrs, doc, pending = [], [], ""
    for raw in body.splitlines():
        line = raw.strip()
        if pending:
            pending += " " + line
            if pending.count("[") <= pending.count("]"):
                attrs.append(pending)
                pending = ""
            continue
        if line.startswith("///"):
            doc.append(line[3:].strip())
        elif line.startswith("#["):
            if line.count("[") > line.count("]"):
                pending = line
            else:
                attrs.append(line)
        elif line and not line.startswith("//"):
            yield attrs, " ".join(d for d in doc if d), line
            attrs, doc = [], []


def _fields(body: str) -> list[CliArg]:
    """The clap arguments of a struct's (or a struct variant's) fields."""
    fields = []
    for attrs, doc, decl in _items(body):
        f = re.match(r"(?:pub(?:\([^)]*\))?\s+)?(\w+)\s*:\s*([^,]+),?$", decl)
        if not f:
            continue
        name, ty = f.group(1), f.group(2).strip()
        joined = " ".join(attrs).replace(" ", "")
        if "command(flatten)" in joined:
            fields.append(CliArg(name, None, None, None, doc, ty.split("::")[-1]))
            continue
        if "command(subcommand)" in joined:
            fields.append(CliArg(name, None, None, None, doc, None, re.sub(r"^Option<(.*)>$", r"\1", ty).split("::")[-1]))
            continue
        arg = next((a for a in attrs if a.startswith("#[arg(")), "")
        long = None
        if lm := re.search(r'\blong\s*=\s*"([^"]+)"', arg):
            long = lm.group(1)
        elif re.search(r"\blong\b", arg):
            long = name.replace("_", "-")
        env = em.group(1) if (em := re.search(r'\benv\s*=\s*"([^"]+)"', arg)) else None
        default = None
        if dm := re.search(r'\bdefault_value\s*=\s*"([^"]*)"', arg):
            default = dm.group(1)
        elif dm := re.search(r"\bdefault_value(?:_os)?_t\s*=\s*(.+?)(?:,\s*\w+\s*=|\)\]$)", arg):
            default = dm.group(1).strip()
        fields.append(CliArg(name, long, env, default, doc, None))
    return fields


def _variants(body: str):
    """(attributes, name, kind, payload) per variant of a Subcommand enum: `Name(Type)` (payload:
    the type), `Name { fields }` (payload: the fields' text) or `Name` (no payload)."""
    lines = body.splitlines()
    attrs, pending, i = [], "", 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if pending:
            pending += " " + line
            if pending.count("[") <= pending.count("]"):
                attrs.append(pending)
                pending = ""
            continue
        if not line or line.startswith("//"):
            continue
        if line.startswith("#["):
            if line.count("[") > line.count("]"):
                pending = line
            else:
                attrs.append(line)
            continue
        if m := re.match(r"(\w+)\(([\w:]+)\),?$", line):
            yield attrs, m.group(1), "tuple", m.group(2).split("::")[-1]
        elif m := re.match(r"(\w+)\s*\{$", line):
            depth, inner = 1, []
            while i < len(lines) and depth:
                raw = lines[i]
                i += 1
                if not raw.strip().startswith("//"):
                    depth += raw.count("{") - raw.count("}")
                if depth:
                    inner.append(raw)
            yield attrs, m.group(1), "struct", "\n".join(inner)
        elif m := re.match(r"(\w+),?$", line):
            yield attrs, m.group(1), "unit", None
        attrs = []


def read_cli(cli_dir: Path) -> dict[str, Subcommand]:
    text = "\n".join(p.read_text() for p in sorted(cli_dir.glob("*.rs")))
    structs: dict[str, list[CliArg]] = {}
    for m in re.finditer(r"#\[derive\(([^)]*)\)\]\s*pub struct (\w+)\s*\{(.*?)\n\}", text, re.S):
        if "Args" in re.split(r"[\s,]+", m.group(1)):
            structs[m.group(2)] = _fields(m.group(3))

    # Per enum: (kebab-case name, the struct holding its arguments, whether it is a nested enum).
    enums: dict[str, list[tuple[str, str, bool]]] = {}
    for m in re.finditer(r"#\[derive\(([^)]*Subcommand[^)]*)\)\]\s*pub enum (\w+)\s*\{(.*?)\n\}", text, re.S):
        variants = []
        for attrs, name, kind, payload in _variants(m.group(3)):
            if kind == "tuple":
                nested = any("command(subcommand)" in a.replace(" ", "") for a in attrs)
                variants.append((_kebab(name), payload, nested))
            else:
                key = f"{m.group(2)}::{name}"
                structs[key] = _fields(payload) if kind == "struct" else []
                variants.append((_kebab(name), key, False))
        enums[m.group(2)] = variants

    def collect(struct: str, seen=()) -> list[tuple[str, CliArg]]:
        if struct not in structs or struct in seen:
            raise ValueError(f"clap struct {struct} not found in {cli_dir}")
        out = []
        for a in structs[struct]:
            if a.flatten:
                out += collect(a.flatten, seen + (struct,))
            elif not a.subcommand:
                out.append((struct, a))
        return out

    subs: dict[str, Subcommand] = {}

    def walk(enum: str, prefix: str, inherited: list[tuple[str, CliArg]]) -> None:
        if enum not in enums:
            raise ValueError(f"clap subcommand enum {enum} not found in {cli_dir}")
        for name, ty, nested in enums[enum]:
            full = f"{prefix}{name}"
            if nested:
                walk(ty, full + " ", inherited)
                continue
            args = inherited + collect(ty)
            child = next((a.subcommand for a in structs[ty] if a.subcommand), None)
            if child:
                walk(child, full + " ", args)
            else:
                subs[full] = Subcommand(full, ty, args)

    walk("Command", "", [])
    if len(subs) < 3 or sum(len(s.envs) for s in subs.values()) < 5:
        raise ValueError(f"could not read the clap definitions in {cli_dir} (enum Command and its Args structs); has their layout changed?")
    return subs


def cli_table(subs: dict[str, Subcommand]) -> str:
    """The configuration reference, as Markdown (`--cli-table`), for docs."""
    lines = []
    for name, sub in subs.items():
        lines += [f"### `tandemu {name}`", "", "| flag | env | default | from | meaning |", "|---|---|---|---|---|"]
        for struct, a in sub.args:
            flag = f"`--{a.long}`" if a.long else f"`<{a.field.upper()}>`"
            env = f"`{a.env}`" if a.env else ""
            default = f"`{a.default}`" if a.default not in (None, "") else ("`\"\"`" if a.default == "" else "")
            origin = "" if struct == sub.struct else f"`{struct}`"
            lines.append(f"| {flag} | {env} | {default} | {origin} | {a.doc.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Service rules

def env_names(env) -> list[str]:
    if isinstance(env, dict):
        return list(env)
    if isinstance(env, list):
        return [str(e).split("=", 1)[0] for e in env]
    return []


def argv(cmd) -> list[str]:
    if isinstance(cmd, list):
        return [str(c) for c in cmd]
    if isinstance(cmd, str):
        return cmd.split()
    return []


def published(port) -> list[tuple[str | None, str]]:
    """(host port or None, container port) pairs; ranges kept as written."""
    if isinstance(port, int):
        return [(None, str(port))]
    if isinstance(port, dict):
        host = port.get("published")
        return [(None if host in (None, "") else str(host), str(port.get("target")))]
    spec = str(port).split("/", 1)[0]
    if spec.startswith("["):  # [ipv6]:host:container
        spec = spec[spec.index("]") + 2 :]
    parts = spec.split(":")
    if len(parts) == 1:
        return [(None, parts[0])]
    return [(parts[-2] or None, parts[-1])]


# Fields the schema lets be strings (so that `${VAR}` can stand there) which Compose then
# converts: what `docker compose config` would refuse, the schema alone lets through.
DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
DURATION_FIELDS = (("healthcheck", "interval"), ("healthcheck", "timeout"), ("healthcheck", "start_period"),
                   ("healthcheck", "start_interval"), ("stop_grace_period",))
INTEGER_FIELDS = (("healthcheck", "retries"), ("scale",), ("pids_limit",), ("oom_score_adj",), ("cpu_shares",))


def check_conversions(name: str, svc: dict, errors: list[str]) -> None:
    def get(path):
        node = svc
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    for path in DURATION_FIELDS:
        v = get(path)
        if v is not None and not (isinstance(v, str) and DURATION.match(v)):
            errors.append(f"services.{name}.{'.'.join(path)}: {v!r} is not a duration (e.g. 10s, 1m30s)")
    for path in INTEGER_FIELDS:
        v = get(path)
        if v is not None and not (isinstance(v, int) or (isinstance(v, str) and re.fullmatch(r"-?\d+", v))):
            errors.append(f"services.{name}.{'.'.join(path)}: {v!r} is not an integer")
    for limit, v in (svc.get("ulimits") or {}).items():
        values = v.values() if isinstance(v, dict) else [v]
        if not all(isinstance(x, int) or (isinstance(x, str) and x.isdigit()) for x in values):
            errors.append(f"services.{name}.ulimits.{limit}: {v!r} is not a number (or soft/hard numbers)")


def one_shot(svc: dict) -> bool:
    return svc.get("restart") in (None, "no")


def check_services(doc: dict, root: Path, cli: dict[str, Subcommand], pinned: dict[str, str], errors: list[str]) -> set[str]:
    """The project rules; returns the pinned images the file uses."""
    services: dict = doc.get("services") or {}
    used_images: set[str] = set()
    completed_by: dict[str, list[str]] = {}
    project_images = set()
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items() if isinstance(svc.get("depends_on"), dict) else []:
            if isinstance(spec, dict) and spec.get("condition") == "service_completed_successfully":
                completed_by.setdefault(dep, []).append(name)

    for name, svc in services.items():
        where = f"services.{name}"
        check_conversions(name, svc, errors)
        # Health checks.
        hc = svc.get("healthcheck")
        if hc is None:
            errors.append(f"{where}: no healthcheck (a one-shot job that others wait for says `healthcheck: {{disable: true}}`)")
        elif hc.get("disable") is True or hc.get("test") in (["NONE"], "NONE"):
            if not one_shot(svc) or name not in completed_by:
                errors.append(f"{where}: the healthcheck is disabled, but only a one-shot job (restart \"no\") that others wait for with service_completed_successfully may do without")
        elif not hc.get("test"):
            errors.append(f"{where}: healthcheck without a test")
        # depends_on names a condition that can be met.
        deps = svc.get("depends_on")
        if isinstance(deps, list):
            errors.append(f"{where}.depends_on: use the long form with a condition (service_healthy or service_completed_successfully)")
        for dep, spec in (deps or {}).items() if isinstance(deps, dict) else []:
            cond = spec.get("condition") if isinstance(spec, dict) else None
            target = services.get(dep)
            if target is None:
                errors.append(f"{where}.depends_on: no service {dep!r}")
            elif cond == "service_healthy":
                thc = target.get("healthcheck") or {}
                if thc.get("disable") is True or not thc.get("test"):
                    errors.append(f"{where}.depends_on.{dep}: service_healthy, but {dep} has no health check")
            elif cond == "service_completed_successfully":
                if not one_shot(target):
                    errors.append(f"{where}.depends_on.{dep}: service_completed_successfully, but {dep} is a long-running service (restart {target.get('restart')!r})")
            else:
                errors.append(f"{where}.depends_on.{dep}: condition {cond!r}: use service_healthy or service_completed_successfully")
        if svc.get("network_mode") == "host":
            errors.append(f"{where}: network_mode host publishes every port of the service")

        # Bind mounts of files of the repository exist (Compose would mount an empty directory).
        for v in svc.get("volumes") or []:
            source = v.get("source") if isinstance(v, dict) else (str(v).split(":", 1)[0] if ":" in str(v) else None)
            if source and (source.startswith(".") or source.startswith("/")):
                path = (root / source).resolve() if source.startswith(".") else Path(source)
                if source.startswith(".") and not path.exists():
                    errors.append(f"{where}.volumes: {source} does not exist (relative to {root})")

        # Images and builds.
        image, build = svc.get("image"), svc.get("build")
        role = None
        if build is not None or (isinstance(image, str) and PROJECT_IMAGE.match(image)):
            role = check_role(name, svc, root, cli, errors)
            if isinstance(image, str):
                if not PROJECT_IMAGE.match(image):
                    errors.append(f"{where}.image: {image!r}: a service built from the root Dockerfile names the project's image (tandemu:TAG) or none")
                project_images.add(image)
        elif image is None:
            errors.append(f"{where}: neither image nor build")
        elif image not in pinned:
            errors.append(f"{where}.image: {image!r} is not one of the pinned official images of scripts/compose-images.txt ({', '.join(pinned)})")
        else:
            used_images.add(image)

        # Published ports.
        allowed = PUBLISHED_BY_ROLE.get(role or "", set())
        for port in svc.get("ports") or []:
            for host, target in published(port):
                who = f"tandemu {role}" if role else name
                if not target.isdigit() or int(target) not in allowed:
                    ok = ", ".join(f"{r}: {', '.join(map(str, sorted(p)))}" for r, p in PUBLISHED_BY_ROLE.items())
                    errors.append(f"{where}.ports: {port!r} publishes {target} of {who}; only these are published ({ok})")
                elif host is None:
                    errors.append(f"{where}.ports: {port!r}: give the host port ({target}:{target}), not a random one")
                elif host != target:
                    errors.append(f"{where}.ports: {port!r}: publish {target} on host port {target}")
    if len(project_images) > 1:
        errors.append(f"the tandemu roles name different images ({', '.join(sorted(project_images))}): one build serves them all")
    return used_images


def check_role(name: str, svc: dict, root: Path, cli: dict[str, Subcommand], errors: list[str]) -> str | None:
    """A service running the tandemu binary: built from the root Dockerfile, a known subcommand,
    flags and environment variables that subcommand reads. Returns the subcommand."""
    where = f"services.{name}"
    build = svc.get("build")
    if build is None:
        errors.append(f"{where}: runs the tandemu image without build: (it is built from the root Dockerfile, never pulled)")
    else:
        spec = {"context": build} if isinstance(build, str) else dict(build)
        if "dockerfile_inline" in spec:
            errors.append(f"{where}.build: dockerfile_inline; build from the root Dockerfile")
        context = (root / str(spec.get("context", "."))).resolve()
        dockerfile = (context / str(spec.get("dockerfile", "Dockerfile"))).resolve()
        if context != root.resolve() or dockerfile != (root / "Dockerfile").resolve():
            errors.append(f"{where}.build: {build!r} is not the root Dockerfile (context {root}, dockerfile Dockerfile)")
        elif not dockerfile.is_file():
            errors.append(f"{where}.build: {dockerfile} does not exist")
    if svc.get("entrypoint") not in (None, ["tandemu"], "tandemu"):
        errors.append(f"{where}.entrypoint: the image's entrypoint is tandemu; give the role as command")
    if svc.get("env_file"):
        errors.append(f"{where}.env_file: set the role's variables under environment:, where this check can see them")
    args = argv(svc.get("command"))
    sub = next((s for s in sorted(cli, key=len, reverse=True) if args[: len(s.split())] == s.split()), None)
    if sub is None:
        errors.append(f"{where}.command: {args!r} does not start with a tandemu subcommand ({', '.join(cli)})")
        return None
    known = cli[sub]
    for a in args[len(sub.split()) :]:
        if a.startswith("--") and a[2:].split("=", 1)[0] not in known.longs:
            errors.append(f"{where}.command: `tandemu {sub}` has no flag {a.split('=', 1)[0]}")
    libraries = LIBRARY_ENV_ALL | (LIBRARY_ENV_POSTGRES if known.envs & POSTGRES_URL_ENV else set())
    for var in env_names(svc.get("environment")):
        if var in known.envs or var in libraries:
            continue
        readers = sorted(s for s, c in cli.items() if var in c.envs)
        if var in LIBRARY_ENV_POSTGRES:
            hint = f" (a PostgreSQL client variable, and `tandemu {sub}` opens no PostgreSQL connection)"
        else:
            hint = f" (read by: {', '.join(readers)})" if readers else " (no subcommand reads it)"
        errors.append(f"{where}.environment: `tandemu {sub}` does not read {var}{hint}")
    return sub


# ---------------------------------------------------------------------------------------------
# Images: the pinned list, the Dockerfile's base images, Docker Hub

def read_pinned(path: Path, errors: list[str]) -> dict[str, str]:
    pinned: dict[str, str] = {}
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        ref = line.split()[0]
        name, _, tag = ref.rpartition(":")
        if not name or not tag or "/" in tag or tag == "latest":
            errors.append(f"{path.name}:{n}: {ref!r}: pin an explicit version tag (name:tag, not latest)")
        first = name.split("/", 1)[0]
        if "/" in name and ("." in first or ":" in first or first == "localhost"):
            errors.append(f"{path.name}:{n}: {ref!r}: official images from Docker Hub only (no registry host)")
        if ref in pinned:
            errors.append(f"{path.name}:{n}: {ref} is listed twice")
        pinned[ref] = raw.split("#", 1)[1].strip() if "#" in raw else ""
    if not pinned:
        errors.append(f"{path.name}: no pinned image")
    return pinned


def dockerfile_images(path: Path, pinned: dict[str, str], errors: list[str]) -> set[str]:
    used, stages = set(), set()
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        m = re.match(r"FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$", line, re.I)
        refs = []
        if m:
            refs.append(m.group(1))
            if m.group(2):
                stages.add(m.group(2).lower())
        refs += re.findall(r"--from=(\S+)", line) if line.upper().startswith(("COPY", "RUN")) else []
        for ref in refs:
            if ref.lower() in stages or ref.isdigit():
                continue
            if "$" in ref:
                errors.append(f"Dockerfile:{n}: {ref!r}: write the base image literally, so it can be checked")
            elif ref not in pinned:
                errors.append(f"Dockerfile:{n}: {ref!r} is not one of the pinned official images of scripts/compose-images.txt")
            else:
                used.add(ref)
    if not used:
        errors.append(f"{path}: no base image found")
    return used


def check_hub(images: list[str], hub: str, errors: list[str]) -> str:
    """Asks Docker Hub whether each tag exists. A tag Docker Hub says is missing is an error; a
    Docker Hub that cannot be reached is not: the pinned list is trusted then."""
    if hub == "off":
        return "pinned list only (Docker Hub not asked: CHECK_COMPOSE_REGISTRY=off)"
    checked, unsure = 0, []
    for ref in images:
        name, tag = ref.rsplit(":", 1)
        namespace, repo = name.split("/", 1) if "/" in name else ("library", name)
        url = f"{hub.rstrip('/')}/v2/repositories/{namespace}/{repo}/tags/{tag}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": PROG}), timeout=10) as r:
                body = json.load(r)
            if body.get("name") not in (None, tag):
                unsure.append(f"{ref}: unexpected answer")
            else:
                checked += 1
        except urllib.error.HTTPError as e:
            if e.code == 404:
                errors.append(f"image {ref} does not exist on Docker Hub ({url} answered 404)")
            else:
                unsure.append(f"{ref}: HTTP {e.code}")
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            if checked == 0 and not unsure:
                return f"pinned list only (Docker Hub unreachable: {reason})"
            unsure.append(f"{ref}: {reason}")
    if unsure:
        return f"{checked} of {len(images)} verified on Docker Hub, the rest from the pinned list ({'; '.join(unsure)})"
    return f"all {checked} verified on Docker Hub"


# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("compose_file", nargs="?", help="default: docker-compose.yml of the project")
    ap.add_argument("--root", required=True, help="the repository (src/cli, scripts/, the Dockerfile)")
    ap.add_argument("--project-dir", help="what relative paths of the file are relative to (default: the file's folder)")
    ap.add_argument("--cli-table", action="store_true", help="print the CLI's flags and environment variables as Markdown, and stop")
    opts = ap.parse_args()
    root = Path(opts.root).resolve()
    try:
        cli = read_cli(root / "src" / "cli")
    except (OSError, ValueError) as e:
        fail_usage(str(e))
    if opts.cli_table:
        print(cli_table(cli))
        return 0
    compose = Path(opts.compose_file or root / "docker-compose.yml")
    project = Path(opts.project_dir).resolve() if opts.project_dir else compose.resolve().parent
    label = opts.compose_file or "docker-compose.yml"
    errors: list[str] = []

    try:
        raw = yaml.load(compose.read_text(), Loader=ComposeLoader)
    except OSError as e:
        fail_usage(f"{compose}: {e}")
    except yaml.YAMLError as e:
        print(f"{PROG}: {label}: not valid YAML: {e}".replace("\n", " "))
        return 1
    if not isinstance(raw, dict):
        print(f"{PROG}: {label}: not a Compose file (a mapping at the top)")
        return 1

    interp = Interpolator(errors)
    doc = interp.walk(raw, "")
    check_variables(interp.uses, errors)

    schema = json.loads((root / "scripts" / "compose-spec" / "compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    found = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    for e in found:
        # Draft 2020-12 also calls a property "unevaluated" when its own subschema failed: that
        # is the same problem again, reported better by the deeper error.
        if e.validator == "unevaluatedProperties" and any(
            len(o.absolute_path) > len(e.absolute_path) and list(o.absolute_path)[: len(e.absolute_path)] == list(e.absolute_path) for o in found
        ):
            continue
        best = jsonschema.exceptions.best_match(e.context) if e.context else e
        path = ".".join(str(p) for p in e.absolute_path) or "(top)"
        errors.append(f"{path}: {best.message} (Compose Specification)")

    pinned = read_pinned(root / "scripts" / "compose-images.txt", errors)
    used = check_services(doc, project, cli, pinned, errors) if isinstance(doc.get("services"), dict) else set()
    used |= dockerfile_images(root / "Dockerfile", pinned, errors)
    for ref in pinned:
        if ref not in used:
            errors.append(f"scripts/compose-images.txt: {ref} is pinned but neither {label} nor the Dockerfile uses it")

    registry = check_hub(sorted(used), os.environ.get("CHECK_COMPOSE_REGISTRY", DEFAULT_HUB), errors) if not errors else "not checked"

    if errors:
        for e in errors:
            print(f"{PROG}: {label}: {e}")
        print(f"{PROG}: FAILED, {len(errors)} problem(s) in {label}")
        return 1
    services = doc.get("services") or {}
    required = sorted({u.name for u in interp.uses if u.kind == "required"})
    ports = ", ".join(str(p) for r in PUBLISHED_BY_ROLE.values() for p in sorted(r))
    print(
        f"{PROG}: OK {label}: Compose Specification schema valid; {len(services)} services with health checks; "
        f"published {ports} only; role variables known to the CLI; required: {', '.join(required)}; "
        f"images: {registry}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
