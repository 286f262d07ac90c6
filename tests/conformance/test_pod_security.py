"""Pod Security Admission: the Pod Security Standards enforced, warned and audited per namespace.

https://kubernetes.io/docs/concepts/security/pod-security-admission/ (modes, labels, workload
resources, exemptions, exempt updates), https://kubernetes.io/docs/concepts/security/pod-security-standards/
(the baseline and restricted controls) and
https://kubernetes.io/docs/tasks/configure-pod-container/enforce-standards-namespace-labels/
(warnings when an enforce label is added). The refusals and warnings are worded as the real
plugin words them (k8s.io/pod-security-admission, the check names and details of 1.30, which
`latest` means here): `violates PodSecurity "restricted:latest": <reason> (<detail>), ...`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from landlord.devcluster import DevCluster, podsecurity
from landlord.devcluster.podsecurity import Exemptions, LevelVersion
from tests.conformance.test_kubectl import Kubectl, manifest
from tests.helpers import Http

LABEL = "pod-security.kubernetes.io/"


def namespace_body(name: str, **modes: str) -> dict[str, Any]:
    """A Namespace labelled `pod-security.kubernetes.io/<mode>` (`enforce_version=...` gives `-version`)."""
    labels = {LABEL + mode.replace("_", "-"): value for mode, value in modes.items()}
    return {"metadata": {"name": name, "labels": labels}}


async def make_namespace(http: Http, name: str, **modes: str) -> None:
    status, body = await http.post("/api/v1/namespaces", namespace_body(name, **modes))
    assert status == 201, body


def pods(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


def restricted_pod(name: str = "x") -> dict[str, Any]:
    """The minimal Pod the restricted level admits: every check's change below starts from it."""
    return {
        "metadata": {"name": name},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "app",
                    "image": "nginx",
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                }
            ],
        },
    }


def app(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod's container "app"'s securityContext."""
    context: dict[str, Any] = pod["spec"]["containers"][0]["securityContext"]
    return context


def changed(**changes: Any) -> dict[str, Any]:
    """The restricted pod with `spec` keys set (`pod_sc` merges into the pod's securityContext,
    `app_sc` into the container's, `annotations` into the metadata; `unset` drops pod securityContext keys)."""
    pod = restricted_pod()
    for key in changes.pop("unset", ()):
        del pod["spec"]["securityContext"][key]
    pod["spec"]["securityContext"].update(changes.pop("pod_sc", {}))
    app(pod).update(changes.pop("app_sc", {}))
    if "annotations" in changes:
        pod["metadata"]["annotations"] = changes.pop("annotations")
    pod["spec"].update(changes)
    return pod


async def refusal(http: Http, namespace: str, pod: dict[str, Any]) -> str:
    """The message of the refused creation (403 Forbidden, reason Forbidden)."""
    status, body = await http.post(pods(namespace), pod)
    assert status == 403, body
    assert body["reason"] == "Forbidden" and body["details"] == {"name": pod["metadata"]["name"], "kind": "pods"}
    message: str = body["message"]
    return message


async def admitted(http: Http, namespace: str, pod: dict[str, Any]) -> None:
    """Created (201), with no PodSecurity warning; deleted again so that the name can be reused."""
    status, body = await http.post(pods(namespace), pod)
    assert status == 201, body
    assert "PodSecurity" not in http.last_headers.get("Warning", "")
    assert (await http.delete(f"{pods(namespace)}/{pod['metadata']['name']}"))[0] == 200


@pytest.fixture
async def levels(http: Http) -> None:
    """Namespaces `priv` (no labels), `base` and `restr` enforcing baseline and restricted."""
    await make_namespace(http, "priv")
    await make_namespace(http, "base", enforce="baseline")
    await make_namespace(http, "restr", enforce="restricted")


def forbidden(level: str, *reasons: str, name: str = "x") -> str:
    return f'pods "{name}" is forbidden: violates PodSecurity "{level}:latest": {", ".join(reasons)}'


# -- the levels and the message -------------------------------------------------------------------
async def test_a_namespace_without_labels_is_privileged(http: Http) -> None:
    """ "Privileged: Unrestricted policy" and the default AdmissionConfiguration: without labels,
    privileged:latest in every mode; anything goes, without a warning."""
    pod = changed(hostNetwork=True, hostPID=True, app_sc={"privileged": True, "runAsNonRoot": False})
    pod["spec"]["volumes"] = [{"name": "root", "hostPath": {"path": "/"}}]
    status, body = await http.post(pods("default"), pod)
    assert status == 201, body
    assert "Warning" not in http.last_headers


async def test_enforce_refuses_a_pod_with_the_real_message(http: Http) -> None:
    """ "enforce: Policy violations will cause the pod to be rejected": 403, every failed check as
    `reason (detail)`, baseline checks first, then restricted, each group by check id."""
    await make_namespace(http, "restr", enforce="restricted")
    pod = {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    assert await refusal(http, "restr", pod) == forbidden(
        "restricted",
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)',
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"])',
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)',
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")',
    )
    assert (await http.get(f"{pods('restr')}/x"))[0] == 404
    pod["spec"] = {
        "hostPID": True,
        "containers": [
            {
                "name": "app",
                "image": "nginx",
                "ports": [{"containerPort": 80, "hostPort": 80}],
                "securityContext": {"privileged": True},
            }
        ],
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
    }
    assert await refusal(http, "restr", pod) == forbidden(
        "restricted",
        "host namespaces (hostPID=true)",
        'hostPort (container "app" uses hostPort 80)',
        'privileged (container "app" must not set securityContext.privileged=true)',
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)',
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"])',
        'restricted volume types (volume "h" uses restricted volume type "hostPath")',
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)',
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")',
    )


async def test_the_restricted_pod_is_admitted_at_every_level(http: Http, levels: None) -> None:
    for namespace in ("priv", "base", "restr"):
        await admitted(http, namespace, restricted_pod())


# -- every baseline control: refused at baseline and restricted, allowed at privileged -------------
BASELINE_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "HostProcess",
        {"pod_sc": {"windowsOptions": {"hostProcess": True}}, "app_sc": {"windowsOptions": {"hostProcess": True}}},
        'hostProcess (pod and container "app" must not set securityContext.windowsOptions.hostProcess=true)',
        "",
    ),
    (
        "Host Namespaces",
        {"hostNetwork": True, "hostPID": True, "hostIPC": True},
        "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)",
        "",
    ),
    (
        "Privileged Containers",
        {"app_sc": {"privileged": True}},
        'privileged (container "app" must not set securityContext.privileged=true)',
        "",
    ),
    (
        "Capabilities",
        {"app_sc": {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN", "NET_RAW", "CHOWN"]}}},
        'non-default capabilities (container "app" must not include "NET_RAW", "SYS_ADMIN" in '
        "securityContext.capabilities.add)",
        'unrestricted capabilities (container "app" must not include "CHOWN", "NET_RAW", "SYS_ADMIN" in '
        "securityContext.capabilities.add)",
    ),
    (
        "HostPath Volumes",
        {"volumes": [{"name": "host", "hostPath": {"path": "/var"}}, {"name": "tmp", "emptyDir": {}}]},
        'hostPath volumes (volume "host")',
        'restricted volume types (volume "host" uses restricted volume type "hostPath")',
    ),
    (
        "Host Ports",
        {
            "containers": [
                {
                    **restricted_pod()["spec"]["containers"][0],
                    "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 443, "hostPort": 443}],
                }
            ]
        },
        'hostPort (container "app" uses hostPorts 443, 8080)',
        "",
    ),
    (
        "AppArmor (field)",
        {"app_sc": {"appArmorProfile": {"type": "Unconfined"}}},
        'forbidden AppArmor profile (container "app" must not set AppArmor profile type to "Unconfined")',
        "",
    ),
    (
        "AppArmor (annotation)",
        {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}},
        "forbidden AppArmor profile (annotation must not set AppArmor profile type to "
        '"container.apparmor.security.beta.kubernetes.io/app="unconfined"")',
        "",
    ),
    (
        "SELinux",
        {"pod_sc": {"seLinuxOptions": {"type": "spc_t", "user": "root"}}, "app_sc": {"seLinuxOptions": {"role": "r"}}},
        'seLinuxOptions (pod and container "app" set forbidden securityContext.seLinuxOptions: type "spc_t"; '
        "user may not be set; role may not be set)",
        "",
    ),
    (
        "/proc Mount Type",
        {"app_sc": {"procMount": "Unmasked"}},
        'procMount (container "app" must not set securityContext.procMount to "Unmasked")',
        "",
    ),
    (
        "Seccomp",
        {"pod_sc": {"seccompProfile": {"type": "Unconfined"}}},
        'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
        "",
    ),
    (
        "Sysctls",
        {
            "pod_sc": {
                "sysctls": [
                    {"name": "kernel.msgmax", "value": "1"},
                    {"name": "net.ipv4.tcp_syncookies", "value": "1"},
                    {"name": "vm.swappiness", "value": "1"},
                ]
            }
        },
        "forbidden sysctls (kernel.msgmax, vm.swappiness)",
        "",
    ),
]


@pytest.mark.parametrize(
    ("change", "baseline", "restricted"), [c[1:] for c in BASELINE_CASES], ids=[c[0] for c in BASELINE_CASES]
)
async def test_each_baseline_control(
    http: Http, levels: None, change: dict[str, Any], baseline: str, restricted: str
) -> None:
    """Pod Security Standards, "Baseline": each control refused at baseline (and restricted, which
    includes it, where the restricted control replaces it with its own wording)."""
    pod = changed(**copy.deepcopy(change))
    await admitted(http, "priv", pod)
    assert await refusal(http, "base", pod) == forbidden("baseline", baseline)
    assert await refusal(http, "restr", pod) == forbidden("restricted", restricted or baseline)


BASELINE_ALLOWED: list[tuple[str, dict[str, Any]]] = [
    ("HostProcess false", {"pod_sc": {"windowsOptions": {"hostProcess": False}}}),
    ("host namespaces false", {"hostNetwork": False, "hostPID": False, "hostIPC": False}),
    ("privileged false", {"app_sc": {"privileged": False}}),
    (
        "hostPort 0",
        {
            "containers": [
                {**restricted_pod()["spec"]["containers"][0], "ports": [{"containerPort": 80, "hostPort": 0}]}
            ]
        },
    ),
    ("AppArmor RuntimeDefault", {"pod_sc": {"appArmorProfile": {"type": "RuntimeDefault"}}}),
    ("AppArmor Localhost", {"app_sc": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-nginx"}}}),
    (
        "AppArmor annotations",
        {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "localhost/k8s-nginx"}},
    ),
    ("SELinux container_t and a level", {"pod_sc": {"seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"}}}),
    ("procMount Default", {"app_sc": {"procMount": "Default"}}),
    ("seccomp Localhost", {"app_sc": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}}),
    (
        "safe sysctls",
        {
            "pod_sc": {
                "sysctls": [
                    {"name": n, "value": "1"}
                    for n in (
                        "kernel.shm_rmid_forced",
                        "net.ipv4.ip_local_port_range",
                        "net.ipv4.ping_group_range",
                        "net.ipv4.ip_unprivileged_port_start",
                        "net.ipv4.ip_local_reserved_ports",
                        "net.ipv4.tcp_keepalive_time",
                        "net.ipv4.tcp_fin_timeout",
                        "net.ipv4.tcp_keepalive_intvl",
                        "net.ipv4.tcp_keepalive_probes",
                    )
                ]
            }
        },
    ),
]


@pytest.mark.parametrize("change", [c[1] for c in BASELINE_ALLOWED], ids=[c[0] for c in BASELINE_ALLOWED])
async def test_the_allowed_values_of_the_baseline_controls(http: Http, levels: None, change: dict[str, Any]) -> None:
    """The "Allowed Values" of each baseline control pass both baseline and restricted."""
    pod = changed(**copy.deepcopy(change))
    await admitted(http, "base", pod)
    await admitted(http, "restr", pod)


async def test_the_checks_cover_init_containers(http: Http, levels: None) -> None:
    """The controls name `spec.initContainers[*]` as well as `spec.containers[*]`; the detail names
    init containers first."""
    pod = changed(app_sc={"privileged": True})
    init = copy.deepcopy(pod["spec"]["containers"][0]) | {"name": "init"}
    pod["spec"]["initContainers"] = [init]
    assert await refusal(http, "base", pod) == forbidden(
        "baseline", 'privileged (containers "init", "app" must not set securityContext.privileged=true)'
    )
    init["securityContext"] = {"privileged": False}
    app(pod)["privileged"] = False
    assert await refusal(http, "restr", pod) == forbidden(
        "restricted",
        'allowPrivilegeEscalation != false (container "init" must set securityContext.allowPrivilegeEscalation=false)',
        'unrestricted capabilities (container "init" must set securityContext.capabilities.drop=["ALL"])',
    )


def test_the_checks_cover_ephemeral_containers() -> None:
    """`spec.ephemeralContainers[*]` are checked too. Evaluated directly: a Pod cannot be created
    with them, and the emulator serves no `pods/ephemeralcontainers` subresource."""
    pod = restricted_pod()
    pod["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox"}]
    failures = podsecurity.evaluate(LevelVersion("restricted"), pod["metadata"], pod["spec"])
    assert podsecurity.describe(failures) == (
        'allowPrivilegeEscalation != false (container "debugger" must set '
        'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "debugger" must set '
        'securityContext.capabilities.drop=["ALL"])'
    )
    pod["spec"]["ephemeralContainers"][0]["securityContext"] = {"privileged": True}
    failures = podsecurity.evaluate(LevelVersion("baseline"), pod["metadata"], pod["spec"])
    assert podsecurity.describe(failures) == (
        'privileged (container "debugger" must not set securityContext.privileged=true)'
    )


# -- every restricted control: allowed at baseline, refused at restricted -------------------------
def without_pod_context(*keys: str, **app_sc: Any) -> dict[str, Any]:
    pod = restricted_pod()
    for key in keys:
        del pod["spec"]["securityContext"][key]
    app(pod).update(app_sc)
    return pod


RESTRICTED_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "Volume Types",
        {
            "volumes": [
                {"name": "data", "nfs": {"server": "nfs", "path": "/"}},
                {"name": "repo", "gitRepo": {"repository": "https://example.com/r.git"}},
                {"name": "c", "cephfs": {"monitors": ["m"]}},
            ]
        },
        'restricted volume types (volumes "data", "repo", "c" use restricted volume types "cephfs", "gitRepo", "nfs")',
    ),
    (
        "Privilege Escalation",
        {"app_sc": {"allowPrivilegeEscalation": True}},
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)',
    ),
    (
        "Running as Non-root",
        {"pod_sc": {"runAsNonRoot": False}},
        "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)",
    ),
    (
        "Running as Non-root user",
        {"pod_sc": {"runAsUser": 0}, "app_sc": {"runAsUser": 0}},
        'runAsUser=0 (pod and container "app" must not set runAsUser=0)',
    ),
    (
        "Seccomp",
        {"unset": ["seccompProfile"]},
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")',
    ),
    (
        "Running as Non-root (unset)",
        {"unset": ["runAsNonRoot"]},
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)',
    ),
    (
        "Capabilities (drop ALL)",
        {"app_sc": {"capabilities": {"drop": ["NET_RAW"]}}},
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"])',
    ),
    (
        "Capabilities (add)",
        {"app_sc": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "KILL"]}}},
        'unrestricted capabilities (container "app" must not include "KILL" in securityContext.capabilities.add)',
    ),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in RESTRICTED_CASES], ids=[c[0] for c in RESTRICTED_CASES])
async def test_each_restricted_control(http: Http, levels: None, change: dict[str, Any], message: str) -> None:
    """Pod Security Standards, "Restricted": each control allowed at baseline, refused at restricted."""
    pod = changed(**copy.deepcopy(change))
    await admitted(http, "base", pod)
    assert await refusal(http, "restr", pod) == forbidden("restricted", message)


async def test_the_allowed_values_of_the_restricted_controls(http: Http, levels: None) -> None:
    """Volume types of the core set (and inline CSI, ephemeral), NET_BIND_SERVICE added, a
    Localhost seccomp profile, a non-zero runAsUser."""
    pod = changed(
        volumes=[
            {"name": "a", "configMap": {"name": "c"}},
            {"name": "b", "secret": {"secretName": "s"}},
            {"name": "c", "emptyDir": {}},
            {"name": "d", "downwardAPI": {"items": []}},
            {"name": "e", "projected": {"sources": []}},
            {"name": "f", "persistentVolumeClaim": {"claimName": "p"}},
            {"name": "g", "csi": {"driver": "inline.example.com"}},
            {
                "name": "h",
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
                    }
                },
            },
        ],
        pod_sc={"runAsUser": 1000, "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
        app_sc={"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
    )
    await admitted(http, "restr", pod)


async def test_pod_level_and_container_level_security_contexts(http: Http, levels: None) -> None:
    """Fields set on both take the container's value (PodSecurityContext: "the value specified in
    SecurityContext takes precedence"): runAsNonRoot and seccompProfile may come from either, but a
    pod-level false or Unconfined is itself refused; runAsUser=0 is refused wherever it is set."""
    # Set on the container only: allowed.
    pod = without_pod_context(
        "runAsNonRoot", "seccompProfile", runAsNonRoot=True, seccompProfile={"type": "RuntimeDefault"}
    )
    await admitted(http, "restr", pod)
    # Nowhere: the pod or each container must set them.
    pod = without_pod_context("runAsNonRoot", "seccompProfile")
    assert await refusal(http, "restr", pod) == forbidden(
        "restricted",
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)',
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")',
    )
    # The pod says true, the container overrides it with false: refused.
    pod = changed(app_sc={"runAsNonRoot": False})
    assert await refusal(http, "restr", pod) == forbidden(
        "restricted", 'runAsNonRoot != true (container "app" must not set securityContext.runAsNonRoot=false)'
    )
    # The pod says false, every container overrides it with true: still refused (the pod sets it).
    pod = changed(pod_sc={"runAsNonRoot": False}, app_sc={"runAsNonRoot": True})
    assert await refusal(http, "restr", pod) == forbidden(
        "restricted", "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"
    )
    # runAsUser: the container's non-zero value does not excuse the pod's 0.
    pod = changed(pod_sc={"runAsUser": 0}, app_sc={"runAsUser": 1000})
    assert await refusal(http, "restr", pod) == forbidden("restricted", "runAsUser=0 (pod must not set runAsUser=0)")
    await admitted(http, "restr", changed(pod_sc={"runAsUser": 1000}, app_sc={"runAsUser": 1001}))
    # Seccomp: an Unconfined pod profile is refused even when the containers set RuntimeDefault.
    pod = changed(
        pod_sc={"seccompProfile": {"type": "Unconfined"}},
        app_sc={"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
    )
    assert await refusal(http, "restr", pod) == forbidden(
        "restricted", 'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")'
    )


async def test_windows_pods_are_exempt_from_the_linux_only_restricted_checks(http: Http, levels: None) -> None:
    """Pod Security Standards, "Restricted": for pods with `spec.os.name: windows`, the privilege
    escalation, capabilities and seccomp controls do not apply (runAsNonRoot still does)."""
    pod = {
        "metadata": {"name": "win"},
        "spec": {
            "os": {"name": "windows"},
            "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "app", "image": "mcr.microsoft.com/windows/nanoserver"}],
        },
    }
    await admitted(http, "restr", pod)


# -- versions ---------------------------------------------------------------------------------------
async def test_a_pinned_version_applies_that_release_s_checks(http: Http) -> None:
    """`<MODE>-version: v1.X` pins the policy "to the version that shipped with" that release:
    net.ipv4.tcp_keepalive_time joined the safe sysctls in 1.29, runAsUser=0 is restricted from 1.23,
    and a version past this server's is its latest."""
    await make_namespace(http, "v128", enforce="baseline", enforce_version="v1.28")
    await make_namespace(http, "v122", enforce="restricted", enforce_version="v1.22")
    await make_namespace(http, "v199", enforce="restricted", enforce_version="v1.99")
    pod = changed(pod_sc={"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]})
    status, body = await http.post(pods("v128"), pod)
    assert status == 403
    assert body["message"] == 'pods "x" is forbidden: violates PodSecurity "baseline:v1.28": forbidden sysctls ' + (
        "(net.ipv4.tcp_keepalive_time)"
    )
    await admitted(http, "v199", pod)
    await admitted(http, "v122", changed(pod_sc={"runAsUser": 0}))
    assert (await http.post(pods("v199"), changed(pod_sc={"runAsUser": 0})))[0] == 403


# -- warn and audit ---------------------------------------------------------------------------------
def template_of(kind: str, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(collection path in namespace `restr`, body) of a workload resource with that pod spec."""
    template = {"metadata": {"labels": {"app": "web"}}, "spec": spec}
    selector = {"matchLabels": {"app": "web"}}
    group = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    plural = {
        "Deployment": "deployments",
        "StatefulSet": "statefulsets",
        "DaemonSet": "daemonsets",
        "ReplicaSet": "replicasets",
        "Job": "jobs",
        "CronJob": "cronjobs",
    }[kind]
    body: dict[str, Any] = {"apiVersion": group, "kind": kind, "metadata": {"name": "web"}}
    if kind == "CronJob":
        job_template = {**template, "spec": {**spec, "restartPolicy": "Never"}}
        body["spec"] = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": job_template}}}
    elif kind == "Job":
        body["spec"] = {"template": {**template, "spec": {**spec, "restartPolicy": "Never"}}}
    else:
        body["spec"] = {"selector": selector, "template": template}
        if kind == "StatefulSet":
            body["spec"]["serviceName"] = "web"
    return f"/apis/{group}/namespaces/restr/{plural}", body


RESTRICTED_WARNING = (
    'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "web" must set '
    'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "web" must set '
    'securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "web" must set '
    'securityContext.runAsNonRoot=true), seccompProfile (pod or container "web" must set '
    'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
)


def warning_header(text: str) -> str:
    """The Warning header of one warning: `299 - "<text, quotes escaped>"`."""
    return '299 - "' + text.replace('"', '\\"') + '"'


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"])
async def test_workload_resources_are_warned_not_refused(http: Http, levels: None, kind: str) -> None:
    """ "Workload resources and Pod templates": audit and warn apply to them, enforce "is **not**
    applied to workload resources, only to the resulting pod objects". A namespace enforcing a
    level warns at it too (no warn label: the enforce level)."""
    path, body = template_of(kind, {"containers": [{"name": "web", "image": "nginx"}]})
    status, created = await http.post(path, body)
    assert status == 201, created
    assert http.last_headers["Warning"] == warning_header(RESTRICTED_WARNING)
    # Every update is checked again (no "significant update" rule for templates).
    status, _ = await http.patch(f"{path}/web", {"metadata": {"labels": {"x": "y"}}})
    assert status == 200 and http.last_headers["Warning"] == warning_header(RESTRICTED_WARNING)
    path, body = template_of(kind, restricted_pod()["spec"])
    body["metadata"]["name"] = "compliant"
    assert (await http.post(path, body))[0] == 201
    assert "Warning" not in http.last_headers


async def test_the_scale_subresource_is_not_checked(http: Http, levels: None) -> None:
    path, body = template_of("Deployment", {"containers": [{"name": "web", "image": "nginx"}]})
    assert (await http.post(path, body))[0] == 201
    assert (await http.patch(f"{path}/web/scale", {"spec": {"replicas": 3}}))[0] == 200
    assert "Warning" not in http.last_headers


async def test_warn_mode_on_pods_and_enforce_and_warn_at_different_levels(http: Http) -> None:
    """The documented example: enforce baseline, warn (and audit) restricted: a pod violating only
    restricted is admitted with a warning; one violating baseline is refused, without warning."""
    await make_namespace(
        http, "mixed", enforce="baseline", enforce_version="v1.30", warn="restricted", warn_version="v1.30"
    )
    pod = {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    status, _ = await http.post(pods("mixed"), pod)
    assert status == 201
    assert http.last_headers["Warning"] == warning_header(RESTRICTED_WARNING.replace("latest", "v1.30"))
    pod = {"metadata": {"name": "y"}, "spec": {"hostIPC": True, "containers": [{"name": "web", "image": "nginx"}]}}
    message = await refusal(http, "mixed", pod)
    assert message == 'pods "y" is forbidden: violates PodSecurity "baseline:v1.30": host namespaces (hostIPC=true)'
    assert "Warning" not in http.last_headers


async def test_warn_only_namespace_and_dry_run(http: Http) -> None:
    """warn "will trigger a user-facing warning, but are otherwise allowed"; admission runs on dry
    runs too (`kubectl create --dry-run=server` shows the same warning)."""
    await make_namespace(http, "warned", warn="baseline")
    pod = changed(hostNetwork=True)
    status, _ = await http.post(pods("warned"), pod, dryRun="All")
    assert status == 201
    assert http.last_headers["Warning"] == warning_header(
        'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)'
    )
    assert (await http.get(f"{pods('warned')}/x"))[0] == 404


async def test_audit_mode_records_without_refusing_or_warning(http: Http, devcluster: DevCluster) -> None:
    """audit: "Policy violations will trigger the addition of an audit annotation to the event
    recorded in the audit log, but are otherwise allowed" (`pod-security.kubernetes.io/audit-violations`)."""
    await make_namespace(http, "audited", audit="restricted")
    spec = {"containers": [{"name": "web", "image": "nginx"}]}
    pod = {"metadata": {"name": "x"}, "spec": spec}
    assert (await http.post(pods("audited"), pod))[0] == 201
    assert "Warning" not in http.last_headers
    event = devcluster.cluster.pod_security.audit[-1]
    assert (event.operation, event.resource, event.namespace, event.name) == ("CREATE", "pods", "audited", "x")
    assert event.annotations == {
        "pod-security.kubernetes.io/enforce-policy": "privileged:latest",
        "pod-security.kubernetes.io/audit-violations": RESTRICTED_WARNING,
    }
    path, body = template_of("Deployment", spec)
    assert (await http.post(path.replace("/restr/", "/audited/"), body))[0] == 201
    assert devcluster.cluster.pod_security.audit[-1].annotations == {
        "pod-security.kubernetes.io/audit-violations": RESTRICTED_WARNING
    }


# -- updates ----------------------------------------------------------------------------------------
async def test_exempt_pod_updates(http: Http, devcluster: DevCluster) -> None:
    """ "Updates to the following pod fields are exempt from policy checks": metadata (but the
    seccomp and AppArmor annotations), activeDeadlineSeconds, tolerations. A pod created before the
    namespace enforced restricted can still be labelled; changing its image is checked."""
    await make_namespace(http, "later")
    pod = {"metadata": {"name": "old"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    assert (await http.post(pods("later"), pod))[0] == 201
    assert (
        await http.patch(
            "/api/v1/namespaces/later",
            {"metadata": {"labels": {LABEL + "enforce": "restricted", LABEL + "warn": "privileged"}}},
        )
    )[0] == 200
    path = f"{pods('later')}/old"
    assert (await http.patch(path, {"metadata": {"labels": {"tier": "web"}}}))[0] == 200
    assert (await http.patch(path, {"spec": {"activeDeadlineSeconds": 60}}))[0] == 200
    assert (await http.patch(path, {"spec": {"tolerations": [{"key": "k", "operator": "Exists"}]}}))[0] == 200
    status, body = await http.patch(path, {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}, "strategic")
    assert status == 403 and body["message"].startswith('pods "old" is forbidden: violates PodSecurity "restricted')
    status, body = await http.patch(
        path, {"metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/web": "runtime/default"}}}
    )
    assert status == 403
    assert (await http.patch(f"{path}/status", {"status": {"phase": "Running"}}))[0] == 200


# -- namespace labels -------------------------------------------------------------------------------
async def test_invalid_labels_are_refused_on_namespaces(http: Http) -> None:
    """LEVEL "must be one of privileged, baseline, or restricted", VERSION "a valid Kubernetes minor
    version, or latest": a Namespace saying otherwise is invalid (422), on create and update."""
    status, body = await http.post("/api/v1/namespaces", namespace_body("bad", enforce="strict", audit_version="1.30"))
    assert status == 422
    assert body["message"] == (
        'Namespace "bad" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": '
        "must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/audit-version]: "
        'Invalid value: "1.30": must be "latest" or "v1.x"]'
    )
    await make_namespace(http, "good", enforce="baseline", warn_version="v1.29")
    status, body = await http.patch("/api/v1/namespaces/good", {"metadata": {"labels": {LABEL + "warn": "all"}}})
    assert status == 422
    assert body["message"] == (
        'Namespace "good" is invalid: metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "all": '
        "must be one of privileged, baseline, restricted"
    )
    status, _ = await http.patch("/api/v1/namespaces/good", {"metadata": {"labels": {LABEL + "warn-version": "v1.0"}}})
    assert status == 200


async def test_invalid_labels_already_stored_fail_closed_for_enforce(http: Http, devcluster: DevCluster) -> None:
    """A namespace that holds invalid labels (set before the plugin ran: the API refuses them now)
    enforces restricted and neither warns nor audits: unparseable enforce fails closed, audit and
    warn fail open."""
    await make_namespace(http, "legacy")
    stored = devcluster.cluster.objects[("", "namespaces")][("", "legacy")]
    stored["metadata"]["labels"] = {LABEL + "enforce": "strict", LABEL + "warn": "loud"}
    pod = {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    assert (await refusal(http, "legacy", pod)).startswith(
        'pods "x" is forbidden: violates PodSecurity "restricted:latest"'
    )
    await admitted(http, "legacy", restricted_pod())
    # A label update keeping the same invalid labels is allowed.
    assert (await http.patch("/api/v1/namespaces/legacy", {"metadata": {"annotations": {"a": "b"}}}))[0] == 200


async def test_raising_the_enforce_level_warns_about_existing_pods(http: Http, devcluster: DevCluster) -> None:
    """ "When an enforce policy (or version) label is added or changed, the admission plugin will
    test each pod in the namespace against the new policy. Violations are returned to the user as
    warnings": pods grouped by the checks they fail, the first by name shown with the count of the others."""
    await make_namespace(http, "busy")
    plain = {"containers": [{"name": "web", "image": "nginx"}]}
    for name in ("web-2", "web-1", "web-3"):
        assert (await http.post(pods("busy"), {"metadata": {"name": name}, "spec": plain}))[0] == 201
    host = {"hostNetwork": True, **plain}
    assert (await http.post(pods("busy"), {"metadata": {"name": "agent"}, "spec": host}))[0] == 201
    assert (await http.post(pods("busy"), restricted_pod("fine")))[0] == 201
    status, _ = await http.patch("/api/v1/namespaces/busy", {"metadata": {"labels": {LABEL + "enforce": "baseline"}}})
    assert status == 200
    assert http.last_headers["Warning"] == ", ".join(
        warning_header(w)
        for w in (
            'existing pods in namespace "busy" violate the new PodSecurity enforce level "baseline:latest"',
            "agent: host namespaces",
        )
    )
    status, _ = await http.patch("/api/v1/namespaces/busy", {"metadata": {"labels": {LABEL + "enforce": "restricted"}}})
    assert status == 200
    restricted = "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"
    assert http.last_headers["Warning"] == ", ".join(
        warning_header(w)
        for w in (
            'existing pods in namespace "busy" violate the new PodSecurity enforce level "restricted:latest"',
            f"agent: host namespaces, {restricted}",
            f"web-1 (and 2 other pods): {restricted}",
        )
    )
    # Lowering the level (or leaving it) warns of nothing; the existing pods stay either way.
    status, _ = await http.patch("/api/v1/namespaces/busy", {"metadata": {"labels": {LABEL + "enforce": "baseline"}}})
    assert status == 200 and "Warning" not in http.last_headers
    assert len((await http.get(pods("busy")))[1]["items"]) == 5


# -- exemptions -------------------------------------------------------------------------------------
async def test_exemptions_are_none_by_default_and_configurable(http: Http, devcluster: DevCluster) -> None:
    """ "Exemptions must be explicitly enumerated" (usernames, runtime class names, namespaces):
    an exempt request skips enforce, audit and warn."""
    await make_namespace(http, "restr", enforce="restricted")
    pod = {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    assert (await http.post(pods("restr"), pod))[0] == 403  # the admin is not exempt
    config = devcluster.cluster.pod_security.config
    config.exemptions = Exemptions(runtime_classes=frozenset({"gvisor"}))
    assert (await http.post(pods("restr"), {**pod, "spec": {**pod["spec"], "runtimeClassName": "gvisor"}}))[0] == 201
    assert devcluster.cluster.pod_security.audit[-1].annotations == {
        "pod-security.kubernetes.io/exempt": "runtimeClass"
    }
    config.exemptions = Exemptions(usernames=frozenset({"landlord-dev-admin"}))
    assert (await http.post(pods("restr"), {**pod, "metadata": {"name": "y"}}))[0] == 201
    config.exemptions = Exemptions(namespaces=frozenset({"restr", "exempt"}))
    assert (await http.post(pods("restr"), {**pod, "metadata": {"name": "z"}}))[0] == 201
    status, _ = await http.post("/api/v1/namespaces", namespace_body("exempt", enforce="baseline", warn="restricted"))
    assert status == 201
    assert http.last_headers["Warning"] == warning_header(
        'namespace "exempt" is exempt from Pod Security, and the policy (enforce=baseline:latest, '
        "warn=restricted:latest) will be ignored"
    )


# -- kubectl ----------------------------------------------------------------------------------------
@pytest.mark.kubectl
async def test_kubectl_prints_the_refusal_and_the_warnings(http: Http, kubeconfig: Path, tmp_path: Path) -> None:
    """The real kubectl: `kubectl apply` of a privileged pod in a restricted namespace fails with the
    server's message; `kubectl run` in a warned namespace prints the warning and creates the pod;
    `kubectl label` raising the enforce level prints the existing pods' violations."""
    kubectl = Kubectl(kubeconfig, tmp_path)
    await make_namespace(http, "restr", enforce="restricted")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root", "namespace": "restr"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "securityContext": {"privileged": True}}]},
    }
    code, _, err = await kubectl("apply", "-f", "-", stdin=manifest(pod), ok=False)
    assert code == 1
    assert (
        'Error from server (Forbidden): error when creating "STDIN": pods "root" is forbidden: violates PodSecurity '
        '"restricted:latest": privileged (container "app" must not set securityContext.privileged=true), '
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)'
    ) in err
    await make_namespace(http, "warned", warn="restricted")
    _, out, err = await kubectl("run", "web", "--image=nginx", "-n", "warned")
    assert "pod/web created" in out
    assert (
        'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "web" '
        "must set securityContext.allowPrivilegeEscalation=false)"
    ) in err
    _, out, err = await kubectl("label", "ns", "warned", "pod-security.kubernetes.io/enforce=baseline")
    assert "namespace/warned labeled" in out and "Warning" not in err  # the pod passes baseline
    _, out, err = await kubectl("label", "--overwrite", "ns", "warned", "pod-security.kubernetes.io/enforce=restricted")
    assert (
        'Warning: existing pods in namespace "warned" violate the new PodSecurity enforce level "restricted:latest"\n'
        "Warning: web: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, "
        "seccompProfile\n"
    ) in err
