"""Offline checks of docker-compose.yml and the image it builds.

Docker is not needed: the compose file is validated against the Compose
Specification JSON schema that check-jsonschema ships (vendor.compose-spec), and the
facts that tie it to the code are checked by reading the files. These tests cannot
show that the images pull or that the containers start.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from shared import domain
from shared.settings import Settings
from shared.temporal import SEARCH_ATTRIBUTES

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
DEPLOY_README = REPO_ROOT / "deploy" / "README.md"

# Services built from the project image.
APP_SERVICES = ("migrate", "api", "worker")
# Services that run to completion. Others wait for them to finish successfully.
ONE_SHOT_SERVICES = ("temporal-schema", "temporal-namespace", "migrate")

# Names of settings that contain credentials. Their values must come from the environment.
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
# Compose interpolation that fails when the variable is unset: ${NAME:?message}.
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}$")
# Tokens that Compose interpolates or escapes: $$, ${...}, $NAME and a lone $.
DOLLAR_TOKEN = re.compile(r"\$\$|\$\{[^}]*\}|\$[A-Za-z_]\w*|\$")
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_]\w*)(?P<rest>[^}]*)\}")
# Credentials in a URL: scheme://user:password@host, after interpolations are masked.
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://(?P<user>[^:/@\s]+):(?P<password>[^@\s]+)@")
# The custom search attribute types of the temporal CLI, by SDK value type name.
CLI_SEARCH_ATTRIBUTE_TYPES = {
    "TEXT": "Text",
    "KEYWORD": "Keyword",
    "INT": "Int",
    "DOUBLE": "Double",
    "BOOL": "Bool",
    "DATETIME": "Datetime",
    "KEYWORD_LIST": "KeywordList",
}


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate mapping keys, as Docker Compose does.

    PyYAML keeps the last of two equal keys without a warning. Keys merged in with
    ``<<`` may be overridden, so only keys written in the mapping itself count.
    """

    def construct_mapping(self, node, deep=False):
        keys = [
            self.construct_object(key_node, deep=deep)
            for key_node, _ in node.value
            if key_node.tag != "tag:yaml.org,2002:merge"
        ]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {duplicates}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.load(COMPOSE_FILE.read_text(), Loader=UniqueKeyLoader)


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def environment_of(service: dict) -> dict[str, str]:
    """Return a service's environment as a dict, whichever form the file uses."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(entry.split("=", 1) for entry in environment)
    return {name: str(value) for name, value in environment.items()}


def depends_on_of(service: dict) -> dict[str, str]:
    """Return ``{target: condition}``. The short list form means service_started."""
    depends_on = service.get("depends_on", {})
    if isinstance(depends_on, list):
        return {target: "service_started" for target in depends_on}
    return {target: spec.get("condition", "service_started") for target, spec in depends_on.items()}


def shell_script_of(service: dict) -> str | None:
    """Return the ``sh -c`` script of a service with ``$$`` unescaped, or None."""
    if service.get("entrypoint") != ["/bin/sh", "-c"]:
        return None
    return service["command"][0].replace("$$", "$")


def interpolations(text: str) -> list[re.Match]:
    """Return the ${NAME...} references that Compose resolves, skipping escaped $$."""
    matches = (INTERPOLATION.fullmatch(token) for token in DOLLAR_TOKEN.findall(text))
    return [match for match in matches if match]


def mask_interpolations(text: str) -> str:
    """Replace ${NAME:?...} with REQUIRED(NAME) and other references with VARIABLE(NAME)."""

    def replace(match: re.Match) -> str:
        kind = "REQUIRED" if match["rest"].startswith(":?") else "VARIABLE"
        return f"{kind}({match['name']})"

    return INTERPOLATION.sub(replace, text)


def iter_strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_strings(item)


def source_roots() -> list[Path]:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return [REPO_ROOT / where for where in pyproject["tool"]["setuptools"]["packages"]["find"]["where"]]


def module_exists(module: str) -> bool:
    """Return True when ``python -m module`` finds source in one of the package roots."""
    relative = Path(*module.split("."))
    for root in source_roots():
        if (root / relative).with_suffix(".py").is_file():
            return True
        if (root / relative / "__main__.py").is_file():
            return True
    return False


def python_module_of(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"], f"expected `python -m MODULE ...`, got {command}"
    return command[2]


def image_tag(image: str) -> str | None:
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else None


# --- Schema ---------------------------------------------------------------------------


def test_compose_matches_spec_schema():
    # NOTE: the schema checks structure and value types only. Interpolation, shell
    # scripts and references between services are checked by the tests below.
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Dependencies and start order -----------------------------------------------------


def test_depends_on_targets_exist(services):
    for name, service in services.items():
        for target in depends_on_of(service):
            assert target in services, f"{name} depends on {target}, which is not a service"


def test_depends_on_conditions_fit_targets(services):
    for name, service in services.items():
        for target, condition in depends_on_of(service).items():
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy, but it has no healthcheck"
            if condition == "service_completed_successfully":
                assert target in ONE_SHOT_SERVICES, f"{name} waits for {target} to complete, but it is a long-running service"


def test_depends_on_has_no_cycle(services):
    remaining = {name: set(depends_on_of(service)) for name, service in services.items()}
    while remaining:
        ready = [name for name, targets in remaining.items() if not targets & remaining.keys()]
        assert ready, f"depends_on cycle among {sorted(remaining)}"
        for name in ready:
            del remaining[name]


def test_restart_policies_are_valid(services):
    # The schema types restart as any string; Docker accepts only these.
    for name, service in services.items():
        policy = service.get("restart", "no")
        assert re.fullmatch(r"no|always|unless-stopped|on-failure(:\d+)?", policy), f"{name}: restart {policy!r}"


def test_one_shot_services_do_not_restart(services):
    for name in ONE_SHOT_SERVICES:
        assert services[name].get("restart", "no") == "no", f"{name} runs once and must not restart"


def test_app_services_wait_for_setup(services):
    for name in ("api", "worker"):
        conditions = depends_on_of(services[name])
        assert conditions.get("migrate") == "service_completed_successfully", name
        assert conditions.get("temporal-namespace") == "service_completed_successfully", name


def test_temporal_starts_after_schema_setup(services):
    assert depends_on_of(services["temporal"]).get("temporal-schema") == "service_completed_successfully"
    assert depends_on_of(services["temporal-schema"]).get("postgres") == "service_healthy"
    assert depends_on_of(services["temporal-namespace"]).get("temporal") == "service_healthy"


# --- Settings shared by the API and the worker ----------------------------------------


def test_api_and_worker_share_temporal_settings(services):
    api = environment_of(services["api"])
    worker = environment_of(services["worker"])
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TASK_QUEUE", "DATABASE_URL"):
        assert name in api, f"api does not set {name}"
        assert api[name] == worker.get(name), f"api and worker differ in {name}"


def test_temporal_address_names_service(services):
    host, port = environment_of(services["api"])["TEMPORAL_ADDRESS"].rsplit(":", 1)
    assert host == "temporal"
    assert services[host]["image"].startswith("temporalio/server:")
    assert port == "7233"


def test_app_namespace_is_registered(services):
    app_namespace = environment_of(services["api"])["TEMPORAL_NAMESPACE"]
    assert environment_of(services["temporal-namespace"])["NAMESPACE"] == app_namespace


def test_task_queue_is_settings_default(services):
    assert environment_of(services["api"])["TASK_QUEUE"] == Settings.model_fields["task_queue"].default


def test_smtp_host_names_mail_sink(services):
    smtp_host = environment_of(services["worker"])["SMTP_HOST"]
    assert smtp_host in services
    assert services[smtp_host]["image"].startswith("axllent/mailpit:")
    assert environment_of(services["worker"])["SMTP_PORT"] == "1025"


def test_app_environment_names_are_settings(services):
    setting_names = {name.upper() for name in Settings.model_fields}
    for name in APP_SERVICES:
        unknown = set(environment_of(services[name])) - setting_names
        assert not unknown, f"{name} sets variables that shared/settings.py does not read: {sorted(unknown)}"


def test_log_format_is_valid(services):
    for name in APP_SERVICES:
        assert environment_of(services[name])["LOG_FORMAT"] in ("console", "json"), name


def test_database_url_names_compose_postgres(services):
    match = re.fullmatch(r"postgresql://[^@]+@(?P<host>[^:/]+):5432/(?P<database>\w+)", environment_of(services["api"])["DATABASE_URL"])
    assert match, "DATABASE_URL is not a postgresql:// URL with host, port 5432 and database"
    assert match["host"] == "postgres"
    assert environment_of(services["postgres"])["POSTGRES_DB"] == match["database"]


# --- Temporal ---------------------------------------------------------------------------


def test_search_attributes_match_domain(services):
    registered = dict(pair.split("=", 1) for pair in environment_of(services["temporal-namespace"])["SEARCH_ATTRIBUTES"].split())
    domain_names = {value for name, value in vars(domain).items() if name.startswith("SEARCH_ATTRIBUTE_")}
    assert set(registered) == domain_names
    for key in SEARCH_ATTRIBUTES:
        assert registered[key.name] == CLI_SEARCH_ATTRIBUTE_TYPES[key.indexed_value_type.name], key.name


def test_temporal_images_share_one_version(services):
    server_tag = image_tag(services["temporal"]["image"])
    assert server_tag, "temporalio/server has no version tag"
    for name in ("temporal-schema", "temporal-namespace"):
        image = services[name]["image"]
        assert image.startswith("temporalio/admin-tools:"), name
        assert image_tag(image) == server_tag, f"{name} uses admin-tools {image_tag(image)}, server is {server_tag}"


def test_images_are_pinned_and_supported(services):
    for name, service in services.items():
        image = service["image"]
        assert not image.startswith("temporalio/auto-setup"), f"{name} uses the deprecated auto-setup image"
        assert image_tag(image) not in (None, "latest"), f"{name} image {image} has no fixed tag"


def test_temporal_persistence_uses_compose_postgres(services):
    server = environment_of(services["temporal"])
    schema = environment_of(services["temporal-schema"])
    assert server["DB"] == "postgres12"
    assert schema["SQL_PLUGIN"] == server["DB"]
    assert server["POSTGRES_SEEDS"] == "postgres"
    assert schema["SQL_HOST"] == server["POSTGRES_SEEDS"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert server["DB_PORT"] == "5432"
    assert schema["SQL_PORT"] == server["DB_PORT"]
    assert server["POSTGRES_USER"] == schema["SQL_USER"]
    assert server["POSTGRES_PWD"] == schema["SQL_PASSWORD"]


def test_schema_step_covers_both_databases(services):
    server = environment_of(services["temporal"])
    script = shell_script_of(services["temporal-schema"])
    assert script is not None
    for database, schema_name in ((server["DBNAME"], "temporal"), (server["VISIBILITY_DBNAME"], "visibility")):
        assert f"--db {database} setup-schema -v 0.0" in script, database
        assert f"--db {database} update-schema" in script, database
        assert f"$schema_root/{schema_name}/versioned" in script, database
    assert "schema_root=/etc/temporal/schema/postgresql/v12" in script


def test_dynamic_config_mount_matches_path(services):
    server = services["temporal"]
    mounts = [volume.split(":") for volume in server["volumes"]]
    container_paths = {target: REPO_ROOT / source for source, target, *_ in mounts if source.startswith("./")}
    config_path = environment_of(server)["DYNAMIC_CONFIG_FILE_PATH"]
    assert config_path in container_paths, f"{config_path} is not a mounted file"
    assert container_paths[config_path].is_file()


def test_dynamic_config_file_structure():
    config = yaml.safe_load((REPO_ROOT / "deploy" / "temporal" / "dynamicconfig.yaml").read_text())
    assert isinstance(config, dict)
    assert config, "the dynamic config file is empty"
    for key, entries in config.items():
        assert re.fullmatch(r"[a-z]+(\.[A-Za-z]+)+", key), f"{key} is not a dotted dynamic config key"
        assert isinstance(entries, list), key
        assert entries, f"{key} has no value"
        for entry in entries:
            assert "value" in entry, key
            assert set(entry) <= {"value", "constraints"}, key


def test_shell_scripts_parse(services):
    scripts = {name: shell_script_of(service) for name, service in services.items()}
    scripts = {name: script for name, script in scripts.items() if script is not None}
    assert set(scripts) == {"temporal-schema", "temporal-namespace"}
    for name, script in scripts.items():
        result = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{name}: {result.stderr}"


# --- Secrets and interpolation ----------------------------------------------------------


def test_no_literal_passwords(compose, services):
    for name, service in services.items():
        for variable, value in environment_of(service).items():
            if SECRET_NAME.search(variable):
                assert REQUIRED_VARIABLE.match(value), f"{name}.{variable} is not a required ${{VAR:?...}} reference"
    for text in iter_strings(compose):
        for match in URL_CREDENTIALS.finditer(mask_interpolations(text)):
            assert re.fullmatch(r"REQUIRED\(\w+\)", match["password"]), f"URL with a literal password: {text}"


def test_secret_variables_have_no_default():
    for match in interpolations(COMPOSE_FILE.read_text()):
        if SECRET_NAME.search(match["name"]):
            assert match["rest"].startswith(":?"), f"{match[0]} lets the secret default or be empty"


def test_dollar_signs_are_escaped_or_documented():
    # Compose interpolates every $NAME and ${NAME...} in the file, so shell variables
    # must be written $$NAME. Each variable Compose does read must be documented.
    documentation = DEPLOY_README.read_text()
    text = COMPOSE_FILE.read_text()
    for token in DOLLAR_TOKEN.findall(text):
        if token == "$$":
            continue
        assert token.startswith("${"), f"unescaped {token!r}: write $$ for a shell variable"
        name = re.match(r"\$\{([A-Za-z_]\w*)", token)
        assert name, f"invalid interpolation {token!r}"
        assert f"`{name[1]}`" in documentation, f"{name[1]} is not documented in deploy/README.md"


def test_published_ports_bind_to_loopback(services):
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


# --- Commands and the image -----------------------------------------------------------


def test_app_commands_name_existing_modules(services):
    for name in APP_SERVICES:
        module = python_module_of(services[name]["command"])
        assert module_exists(module), f"{name} runs `python -m {module}`, which has no source"


def test_app_services_use_project_image(services):
    for name in APP_SERVICES:
        build = services[name]["build"]
        assert (REPO_ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_api_healthcheck_uses_served_port(services):
    api = services["api"]
    command = api["command"]
    port = command[command.index("--port") + 1]
    assert f"127.0.0.1:{port}/healthz" in " ".join(api["healthcheck"]["test"])
    assert any(str(published).endswith(f":{port}") for published in api["ports"])


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return (instruction, arguments) pairs with line continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            instructions.append((instruction.upper(), arguments.strip()))
    return instructions


def test_dockerfile_uses_python_slim_base():
    bases = [arguments.split()[0] for instruction, arguments in dockerfile_instructions() if instruction == "FROM"]
    assert bases, "the Dockerfile has no FROM"
    assert set(bases) == {"python:3.11-slim"}


def test_dockerfile_installs_project_from_pyproject():
    instructions = dockerfile_instructions()
    copied = [arguments.split()[0] for instruction, arguments in instructions if instruction == "COPY" and not arguments.startswith("--from")]
    assert "pyproject.toml" in copied
    for source in copied:
        assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path in the repository"
    assert any(instruction == "RUN" and "pip install ." in arguments for instruction, arguments in instructions)


def test_dockerfile_copies_every_package_root():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    find = pyproject["tool"]["setuptools"]["packages"]["find"]
    copied = {
        arguments.split()[0]
        for instruction, arguments in dockerfile_instructions()
        if instruction == "COPY" and not arguments.startswith("--from")
    }
    for pattern in find["include"]:
        package = pattern.rstrip("*")
        roots = [where for where in find["where"] if (REPO_ROOT / where / package).is_dir()]
        assert roots, f"package {package} is in no source root"
        top_level = Path(roots[0], package).parts[0]
        assert top_level in copied, f"the image does not copy {top_level}, which holds package {package}"


def test_dockerfile_runs_as_non_root():
    users = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "USER"]
    assert users, "the image runs as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), f"USER {users[-1]} is not numeric, so Kubernetes cannot verify runAsNonRoot"
    assert int(uid) > 0, f"USER {users[-1]} is root"
    if gid:
        assert gid.isdigit(), f"USER {users[-1]} has a non-numeric group"
        assert int(gid) > 0, f"USER {users[-1]} has the root group"


def test_dockerfile_default_command_runs_api():
    commands = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "CMD"]
    assert commands
    command = yaml.safe_load(commands[-1])
    assert module_exists(python_module_of(command))
