"""Offline checks of the Kubernetes manifests in deploy/kubernetes.

Built-in kinds are validated against the Kubernetes OpenAPI schemas that
kubernetes-validate ships, in strict mode (unknown fields fail). The KEDA
ScaledObject is a custom resource with no schema there, so its fields are checked
here, and the HorizontalPodAutoscaler that KEDA derives from it is validated against
the Kubernetes schema. No cluster is needed.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from shared import domain
from shared.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST_DIR = REPO_ROOT / "deploy" / "kubernetes"
DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
DEPLOY_README = REPO_ROOT / "deploy" / "README.md"
TEMPORAL_README = REPO_ROOT / "deploy" / "temporal" / "README.md"

# The oldest Kubernetes release deploy/README.md supports, and the newest schema shipped.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CUSTOM_KINDS = {("keda.sh/v1alpha1", "ScaledObject")}
EXPECTED_KINDS = {"Namespace", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "Job", "ScaledObject"}
# The Postgres default max_connections.
POSTGRES_MAX_CONNECTIONS = 100
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|TOKEN|API_KEY|DATABASE_URL", re.IGNORECASE)

# ScaledObject fields of the KEDA CRD (keda.sh/v1alpha1).
SCALED_OBJECT_SPEC_FIELDS = {
    "scaleTargetRef",
    "pollingInterval",
    "cooldownPeriod",
    "initialCooldownPeriod",
    "idleReplicaCount",
    "minReplicaCount",
    "maxReplicaCount",
    "advanced",
    "fallback",
    "triggers",
}
TRIGGER_FIELDS = {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"}
# Metadata keys of the KEDA temporal scaler (KEDA 2.17 and later).
TEMPORAL_TRIGGER_REQUIRED = {"endpoint", "namespace", "taskQueue", "targetQueueSize"}
TEMPORAL_TRIGGER_KEYS = TEMPORAL_TRIGGER_REQUIRED | {
    "endpointFromEnv",
    "activationTargetQueueSize",
    "queueTypes",
    "workerDeploymentName",
    "workerDeploymentBuildId",
    "buildId",
    "selectAllActive",
    "selectUnversioned",
    "minConnectTimeout",
    "unsafeSsl",
    "tlsServerName",
}


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate mapping keys, as the Kubernetes API does.

    PyYAML keeps the last of two equal keys without a warning.
    """

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key_node, deep=deep) for key_node, _ in node.value]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {duplicates}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_documents() -> list[tuple[str, dict]]:
    documents = []
    for path in sorted(MANIFEST_DIR.glob("*.yaml")):
        for document in yaml.load_all(path.read_text(), Loader=UniqueKeyLoader):
            if document is not None:
                documents.append((path.name, document))
    return documents


DOCUMENTS = load_documents()


def resource_id(item: tuple[str, dict]) -> str:
    file_name, document = item
    return f"{file_name}:{document['kind']}/{document['metadata']['name']}"


def find(kind: str, name: str | None = None) -> dict:
    matches = [doc for _, doc in DOCUMENTS if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def pod_templates() -> dict[str, dict]:
    """Return the pod spec of every Deployment and Job, by workload name."""
    return {doc["metadata"]["name"]: doc["spec"]["template"] for _, doc in DOCUMENTS if doc["kind"] in ("Deployment", "Job")}


def containers() -> list[tuple[str, dict]]:
    return [(name, container) for name, template in pod_templates().items() for container in template["spec"]["containers"]]


def configmap_data() -> dict[str, str]:
    return find("ConfigMap", "campaign-settings")["data"]


def module_exists(module: str) -> bool:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    relative = Path(*module.split("."))
    for where in pyproject["tool"]["setuptools"]["packages"]["find"]["where"]:
        root = REPO_ROOT / where
        if (root / relative).with_suffix(".py").is_file() or (root / relative / "__main__.py").is_file():
            return True
    return False


def dockerfile_user() -> tuple[int, int | None]:
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    uid, _, gid = users[-1].partition(":")
    return int(uid), int(gid) if gid else None


def compose_environment(service: str) -> dict[str, str]:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return {name: str(value) for name, value in compose["services"][service]["environment"].items()}


def search_attributes_in_readme() -> dict[str, str]:
    match = re.search(r"^for pair in (?P<pairs>[^;]+); do$", TEMPORAL_README.read_text(), flags=re.MULTILINE)
    assert match, "no `for pair in ...; do` line in deploy/temporal/README.md"
    return dict(pair.split("=", 1) for pair in match["pairs"].split())


# --- Schemas ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "item",
    [item for item in DOCUMENTS if (item[1]["apiVersion"], item[1]["kind"]) not in CUSTOM_KINDS],
    ids=resource_id,
)
def test_manifest_matches_kubernetes_schema(item, version):
    _, document = item
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{resource_id(item)} is invalid for Kubernetes {version}: {error.message} at {list(error.path)}")


def test_manifests_have_expected_kinds():
    kinds = {document["kind"] for _, document in DOCUMENTS}
    assert kinds == EXPECTED_KINDS


def test_namespaced_objects_use_one_namespace():
    namespace = find("Namespace")["metadata"]["name"]
    for item in DOCUMENTS:
        document = item[1]
        if document["kind"] != "Namespace":
            assert document["metadata"].get("namespace") == namespace, resource_id(item)


# --- Secrets ----------------------------------------------------------------------------


def test_manifests_hold_no_secret_values():
    for item in DOCUMENTS:
        assert item[1]["kind"] != "Secret", f"{resource_id(item)}: Secrets are created by hand, not committed"
    for name in configmap_data():
        assert not SECRET_NAME.search(name), f"ConfigMap key {name} looks like a secret"
    for workload, container in containers():
        for variable in container.get("env", []):
            if SECRET_NAME.search(variable["name"]):
                assert "value" not in variable, f"{workload} sets {variable['name']} to a literal"
                assert "secretKeyRef" in variable.get("valueFrom", {}), f"{workload} reads {variable['name']} from no Secret"


def test_database_url_comes_from_secret():
    for workload, container in containers():
        variables = {variable["name"]: variable for variable in container.get("env", [])}
        assert "DATABASE_URL" in variables, f"{workload} has no DATABASE_URL"
        reference = variables["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": "campaign-database", "key": "DATABASE_URL"}, workload


def test_referenced_secrets_are_documented():
    documentation = DEPLOY_README.read_text()
    for workload, container in containers():
        for variable in container.get("env", []):
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference:
                assert f"create secret generic {reference['name']}" in documentation, reference["name"]
                assert f"--from-literal={reference['key']}=" in documentation, reference["key"]


# --- Settings ---------------------------------------------------------------------------


def test_configmap_keys_are_settings():
    setting_names = {name.upper() for name in Settings.model_fields}
    unknown = set(configmap_data()) - setting_names
    assert not unknown, f"ConfigMap keys that shared/settings.py does not read: {sorted(unknown)}"


def test_env_names_are_settings():
    setting_names = {name.upper() for name in Settings.model_fields}
    for workload, container in containers():
        for variable in container.get("env", []):
            assert variable["name"] in setting_names, f"{workload} sets {variable['name']}, which no setting reads"


def test_workloads_load_the_configmap():
    configmap_name = find("ConfigMap")["metadata"]["name"]
    for workload, container in containers():
        references = [source["configMapRef"]["name"] for source in container.get("envFrom", [])]
        assert references == [configmap_name], workload


def test_configmap_values_are_valid_settings():
    data = configmap_data()
    # Raises pydantic.ValidationError on a value of the wrong type or format.
    settings = Settings(**{name.lower(): value for name, value in data.items()})
    assert settings.smtp_port == int(data["SMTP_PORT"])
    assert settings.log_format == data["LOG_FORMAT"]


def test_temporal_settings_match_compose():
    data = configmap_data()
    compose = compose_environment("worker")
    assert data["TASK_QUEUE"] == compose["TASK_QUEUE"]
    assert data["TASK_QUEUE"] == Settings.model_fields["task_queue"].default
    assert data["TEMPORAL_NAMESPACE"] == compose["TEMPORAL_NAMESPACE"]


# --- API ----------------------------------------------------------------------------------


def api_container() -> dict:
    (container,) = find("Deployment", "campaign-api")["spec"]["template"]["spec"]["containers"]
    return container


def test_api_runs_several_replicas():
    assert find("Deployment", "campaign-api")["spec"]["replicas"] >= 2


def test_api_probes_use_healthz():
    container = api_container()
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == "/healthz", probe
        assert http_get["port"] in port_names, f"{probe} uses an undeclared port {http_get['port']}"


def test_api_listens_on_declared_port():
    container = api_container()
    command = container["command"]
    assert int(command[command.index("--port") + 1]) == container["ports"][0]["containerPort"]
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_api_is_stateless():
    volumes = find("Deployment", "campaign-api")["spec"]["template"]["spec"].get("volumes", [])
    for volume in volumes:
        assert set(volume) - {"name"} <= {"emptyDir", "configMap", "secret", "projected"}, volume["name"]


def test_api_service_routes_to_pods():
    deployment = find("Deployment", "campaign-api")
    service = find("Service", "campaign-api")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    port_names = {port["name"] for port in api_container()["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in port_names


def test_api_budget_keeps_pods_running():
    deployment = find("Deployment", "campaign-api")
    budget = find("PodDisruptionBudget", "campaign-api")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] >= 1
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"], "a drain could never evict an API pod"


# --- Workloads ----------------------------------------------------------------------------


def test_deployment_selectors_match_templates():
    for _, document in DOCUMENTS:
        if document["kind"] == "Deployment":
            labels = document["spec"]["template"]["metadata"]["labels"]
            assert document["spec"]["selector"]["matchLabels"].items() <= labels.items(), document["metadata"]["name"]


def test_workloads_run_as_image_user():
    uid, gid = dockerfile_user()
    for workload, template in pod_templates().items():
        security = template["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True, workload
        assert security["runAsUser"] == uid, workload
        if gid is not None:
            assert security["runAsGroup"] == gid, workload


def test_containers_cannot_escalate():
    for workload, container in containers():
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, workload
        assert security["capabilities"]["drop"] == ["ALL"], workload


def test_workloads_share_one_pinned_image():
    images = {container["image"] for _, container in containers()}
    assert len(images) == 1, f"workloads use different images: {sorted(images)}"
    (image,) = images
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    assert tag, f"{image} has no tag"
    assert tag != "latest", image


def test_workload_commands_name_existing_modules():
    for workload, container in containers():
        command = container["command"]
        assert command[:2] == ["python", "-m"], workload
        assert module_exists(command[2]), f"{workload} runs `python -m {command[2]}`, which has no source"


def test_migration_job_runs_migrations_once():
    job = find("Job", "campaign-migrate")
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    assert spec["containers"][0]["command"] == ["python", "-m", "shared.db.migrate"]
    assert job["spec"]["backoffLimit"] >= 1


def test_worker_replicas_are_left_to_keda():
    worker = find("Deployment", "delivery-worker")
    assert "replicas" not in worker["spec"], "a fixed replica count fights the KEDA autoscaler on every apply"


# --- KEDA ScaledObject --------------------------------------------------------------------


def scaled_object() -> dict:
    return find("ScaledObject", "delivery-worker")


def temporal_trigger() -> dict:
    (trigger,) = [trigger for trigger in scaled_object()["spec"]["triggers"] if trigger["type"] == "temporal"]
    return trigger


def test_scaledobject_has_required_fields():
    document = scaled_object()
    assert document["apiVersion"] == "keda.sh/v1alpha1"
    assert document["metadata"]["name"]
    spec = document["spec"]
    assert set(spec) <= SCALED_OBJECT_SPEC_FIELDS, f"unknown fields: {sorted(set(spec) - SCALED_OBJECT_SPEC_FIELDS)}"
    assert spec["scaleTargetRef"]["name"]
    assert isinstance(spec["triggers"], list)
    assert spec["triggers"], "a ScaledObject needs at least one trigger"
    for field in ("minReplicaCount", "maxReplicaCount", "pollingInterval"):
        assert type(spec[field]) is int, f"{field} must be an integer"
    for trigger in spec["triggers"]:
        assert set(trigger) <= TRIGGER_FIELDS, f"unknown trigger fields: {sorted(set(trigger) - TRIGGER_FIELDS)}"
        assert isinstance(trigger["type"], str)
        # The CRD types trigger metadata as a map of strings.
        assert all(isinstance(value, str) for value in trigger["metadata"].values()), trigger["metadata"]


def test_scaledobject_targets_worker_deployment():
    target = scaled_object()["spec"]["scaleTargetRef"]
    worker = find("Deployment", "delivery-worker")
    assert target["name"] == worker["metadata"]["name"]
    assert target.get("kind", "Deployment") == "Deployment"
    assert target.get("apiVersion", "apps/v1") == worker["apiVersion"]


def test_scaledobject_replica_bounds():
    spec = scaled_object()["spec"]
    assert spec["minReplicaCount"] >= 1, "with zero workers, recurring timers wait for a scale-up"
    assert spec["minReplicaCount"] <= spec["maxReplicaCount"]


def test_temporal_trigger_metadata():
    metadata = temporal_trigger()["metadata"]
    assert TEMPORAL_TRIGGER_REQUIRED <= set(metadata), f"missing: {sorted(TEMPORAL_TRIGGER_REQUIRED - set(metadata))}"
    assert set(metadata) <= TEMPORAL_TRIGGER_KEYS, f"unknown: {sorted(set(metadata) - TEMPORAL_TRIGGER_KEYS)}"
    assert int(metadata["targetQueueSize"]) >= 1
    assert set(metadata.get("queueTypes", "workflow").split(",")) <= {"workflow", "activity", "nexus"}


def test_temporal_trigger_matches_configmap():
    metadata = temporal_trigger()["metadata"]
    data = configmap_data()
    assert metadata["endpoint"] == data["TEMPORAL_ADDRESS"]
    assert metadata["namespace"] == data["TEMPORAL_NAMESPACE"]
    assert metadata["taskQueue"] == data["TASK_QUEUE"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_derived_autoscaler_matches_kubernetes_schema(version):
    # KEDA creates an autoscaling/v2 HorizontalPodAutoscaler from the ScaledObject:
    # the replica bounds, the scale target and advanced.horizontalPodAutoscalerConfig.
    spec = scaled_object()["spec"]
    target = spec["scaleTargetRef"]
    hpa_config = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
    autoscaler = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": f"keda-hpa-{scaled_object()['metadata']['name']}"},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": target.get("apiVersion", "apps/v1"),
                "kind": target.get("kind", "Deployment"),
                "name": target["name"],
            },
            "minReplicas": spec["minReplicaCount"],
            "maxReplicas": spec["maxReplicaCount"],
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": "s0-temporal"},
                        "target": {"type": "AverageValue", "averageValue": temporal_trigger()["metadata"]["targetQueueSize"]},
                    },
                }
            ],
        },
    }
    if "behavior" in hpa_config:
        autoscaler["spec"]["behavior"] = hpa_config["behavior"]
    try:
        kubernetes_validate.validate(autoscaler, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"derived HorizontalPodAutoscaler is invalid for Kubernetes {version}: {error.message} at {list(error.path)}")


def test_connection_budget_fits_postgres():
    pool_size = int(configmap_data()["DATABASE_POOL_MAX_SIZE"])
    pods = find("Deployment", "campaign-api")["spec"]["replicas"] + scaled_object()["spec"]["maxReplicaCount"]
    assert pods * pool_size < POSTGRES_MAX_CONNECTIONS, f"{pods} pods x {pool_size} connections"


# --- Temporal for production --------------------------------------------------------------


def test_readme_search_attributes_match_domain():
    documented = search_attributes_in_readme()
    registered = dict(pair.split("=", 1) for pair in compose_environment("temporal-namespace")["SEARCH_ATTRIBUTES"].split())
    assert documented == registered
    domain_names = {value for name, value in vars(domain).items() if name.startswith("SEARCH_ATTRIBUTE_")}
    assert set(documented) == domain_names


def test_readme_names_configmap_address():
    assert configmap_data()["TEMPORAL_ADDRESS"] in TEMPORAL_README.read_text()
