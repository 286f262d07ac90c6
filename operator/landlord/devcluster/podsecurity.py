"""Pod Security Admission: the Pod Security Standards enforced, audited and warned per namespace.

As https://kubernetes.io/docs/concepts/security/pod-security-admission/ describes it: a
namespace picks a level (`privileged`, `baseline`, `restricted`) and a version (`latest` or
`v1.X`) per mode with the labels `pod-security.kubernetes.io/<MODE>[-version]`. `enforce`
refuses a violating Pod (403 Forbidden, `violates PodSecurity "restricted:latest": ...`), `warn`
answers a Warning header (`would violate PodSecurity ...`), `audit` records the violation
(`PodSecurity.audit`, the emulator keeps no audit log). Workload resources with a pod template
are warned and audited, never refused. An invalid level or version in a Namespace's labels is
refused (422); on a Pod, an invalid enforce level fails closed (restricted) and an invalid
audit or warn level fails open (privileged). Raising a namespace's enforce level warns about
its existing pods that would not be admitted. Without labels, the defaults apply:
privileged:latest in every mode, as the default AdmissionConfiguration has it.

The checks are those of https://kubernetes.io/docs/concepts/security/pod-security-standards/
as the real admission plugin words them (check names and details), versioned as it versions
them; `latest` is this emulator's Kubernetes 1.30. Exemptions (usernames, namespaces, runtime
classes) are none by default and configurable on `Cluster.pod_security.config`.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..validation.errors import FieldError
from . import errors, identity
from .resources import ResourceType

Version = tuple[int, int]
LATEST_DEFINITIONS: Version = (1, 30)
"""The checks `latest` and versions past it mean: those of this emulator's Kubernetes version."""

PREFIX = "pod-security.kubernetes.io/"
PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
MODES = ("enforce", "audit", "warn")
PODS = ("", "pods")
NAMESPACES = ("", "namespaces")
TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "replicationcontrollers"): ("spec", "template"),
    ("", "podtemplates"): ("template",),
    ("apps", "replicasets"): ("spec", "template"),
    ("apps", "deployments"): ("spec", "template"),
    ("apps", "statefulsets"): ("spec", "template"),
    ("apps", "daemonsets"): ("spec", "template"),
    ("batch", "jobs"): ("spec", "template"),
    ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template"),
}
"""The workload resources whose pod template is warned and audited (never enforced)."""
RESOURCES = frozenset({PODS, NAMESPACES, *TEMPLATES})
IGNORED_POD_SUBRESOURCES = frozenset({"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"})
MAX_PODS_CHECKED = 3000
"""Existing pods checked when a namespace's enforce level is raised (the real plugin's bound)."""


# -- levels, versions, policies ---------------------------------------------------------------------
@dataclass(frozen=True)
class LevelVersion:
    """One mode's policy: a level at a version (None: `latest`)."""

    level: str
    version: Version | None = None

    def __str__(self) -> str:
        version = "latest" if self.version is None else f"v{self.version[0]}.{self.version[1]}"
        return f"{self.level}:{version}"


@dataclass(frozen=True)
class Policy:
    """The level and version of each mode, as a namespace's labels (and the defaults) set them."""

    enforce: LevelVersion = LevelVersion(PRIVILEGED)
    audit: LevelVersion = LevelVersion(PRIVILEGED)
    warn: LevelVersion = LevelVersion(PRIVILEGED)

    @property
    def fully_privileged(self) -> bool:
        return self.enforce.level == self.audit.level == self.warn.level == PRIVILEGED

    def equivalent(self, other: Policy) -> bool:
        """Same levels and versions, privileged being privileged at any version."""
        pairs = ((self.enforce, other.enforce), (self.audit, other.audit), (self.warn, other.warn))
        return all(a == b or a.level == b.level == PRIVILEGED for a, b in pairs)


@dataclass
class Exemptions:
    """Requests the plugin ignores altogether (no enforce, audit or warn)."""

    usernames: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    runtime_classes: frozenset[str] = frozenset()


@dataclass
class Configuration:
    """The PodSecurity admission plugin's configuration: default policy and exemptions."""

    defaults: Policy = field(default_factory=Policy)
    exemptions: Exemptions = field(default_factory=Exemptions)


@dataclass
class AuditEvent:
    """The PodSecurity audit annotations of one request (`pod-security.kubernetes.io/...`)."""

    operation: str
    resource: str
    namespace: str
    name: str
    annotations: dict[str, str]


def compare_levels(a: str, b: str) -> int:
    """-1, 0 or 1 as level `a` is less strict than, as strict as, or stricter than `b`."""
    return (LEVELS.index(a) > LEVELS.index(b)) - (LEVELS.index(a) < LEVELS.index(b))


def _parse_version(text: str) -> Version | None:
    """`latest` or `v1.X` (no leading zero); ValueError otherwise."""
    if text == "latest":
        return None
    minor = text[3:]
    if not text.startswith("v1.") or not minor.isdigit() or not minor.isascii() or (minor != "0" and minor[0] == "0"):
        raise ValueError('must be "latest" or "v1.x"')
    return (1, int(minor))


def policy_for(labels: Mapping[str, str] | None, defaults: Policy) -> tuple[Policy, list[FieldError]]:
    """The policy a namespace's labels select, and the labels that are invalid.

    An invalid enforce level fails closed (restricted), an invalid audit or warn level fails
    open (privileged), an invalid version means `latest`. A valid enforce level stricter than
    the warn level also warns, when no warn label says otherwise.
    """
    if not labels:
        return defaults, []
    problems: list[FieldError] = []
    found: dict[str, LevelVersion] = {"enforce": defaults.enforce, "audit": defaults.audit, "warn": defaults.warn}
    valid_enforce_level = False
    for mode in MODES:
        level, version = found[mode].level, found[mode].version
        label = PREFIX + mode
        if label in labels:
            level = labels[label]
            if level not in LEVELS:
                problems.append(_label_error(label, level, f"must be one of {', '.join(LEVELS)}"))
                level = RESTRICTED if mode == "enforce" else PRIVILEGED
            elif mode == "enforce":
                valid_enforce_level = True
        if label + "-version" in labels:
            try:
                version = _parse_version(labels[label + "-version"])
            except ValueError as exc:
                problems.append(_label_error(label + "-version", labels[label + "-version"], str(exc)))
                version = None
        found[mode] = LevelVersion(level, version)
    enforce, warn = found["enforce"], found["warn"]
    if PREFIX + "warn" not in labels and valid_enforce_level and compare_levels(enforce.level, warn.level) > 0:
        version = warn.version if PREFIX + "warn-version" in labels else enforce.version
        found["warn"] = LevelVersion(enforce.level, version)
    return Policy(found["enforce"], found["audit"], found["warn"]), problems


def _label_error(label: str, value: str, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", f"metadata.labels[{label}]", value, detail)


# -- the checks -------------------------------------------------------------------------------------
Result = tuple[str, str] | None
"""A check's answer: None when allowed, else (forbidden reason, forbidden detail)."""
CheckFn = Callable[[dict[str, Any], dict[str, Any]], Result]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Init containers, containers, then ephemeral containers: the order details name them in."""
    return [_dict(c) for key in ("initContainers", "containers", "ephemeralContainers") for c in _list(spec.get(key))]


def _sc(item: dict[str, Any]) -> dict[str, Any]:
    return _dict(item.get("securityContext"))


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _quote(items: Iterable[str]) -> str:
    """`"a", "b"` (the items as they are: no escaping, as the real plugin prints them)."""
    items = list(items)
    return '"' + '", "'.join(items) + '"' if items else ""


def _names(containers: list[dict[str, Any]]) -> str:
    return f"{_plural(len(containers), 'container', 'containers')} {_quote(str(c.get('name', '')) for c in containers)}"


def _setters(pod: bool, containers: list[dict[str, Any]]) -> str:
    """`pod`, `container "a"`, `pod and containers "a", "b"`: who set a forbidden value."""
    parts = (["pod"] if pod else []) + ([_names(containers)] if containers else [])
    return " and ".join(parts)


def _windows(spec: dict[str, Any]) -> bool:
    return _dict(spec.get("os")).get("name") == "windows"


def _go_quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def apparmor_profile(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """AppArmor: the profile type may be RuntimeDefault or Localhost, the annotation
    `runtime/default` or `localhost/*` (not Unconfined)."""
    bad_values: set[str] = set()
    pod = False
    profile = _sc(spec).get("appArmorProfile")
    if isinstance(profile, dict) and profile.get("type") not in ("RuntimeDefault", "Localhost"):
        pod = True
        bad_values.add(str(profile.get("type") or ""))
    bad: list[dict[str, Any]] = []
    for c in _containers(spec):
        profile = _sc(c).get("appArmorProfile")
        if isinstance(profile, dict) and profile.get("type") not in ("RuntimeDefault", "Localhost"):
            bad.append(c)
            bad_values.add(str(profile.get("type") or ""))
    annotations = sorted(
        f"{key}={_go_quote(str(value))}"
        for key, value in _dict(meta.get("annotations")).items()
        if key.startswith(APPARMOR_ANNOTATION)
        and not (not value or value == "runtime/default" or str(value).startswith("localhost/"))
    )
    values = sorted(bad_values) + annotations
    setters = _setters(pod, bad)
    if annotations:
        setters = " and ".join(s for s in (setters, _plural(len(annotations), "annotation", "annotations")) if s)
    if not setters:
        return None
    reason = _plural(len(values), "forbidden AppArmor profile", "forbidden AppArmor profiles")
    return reason, f"{setters} must not set AppArmor profile type to {_quote(values)}"


BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def capabilities_baseline(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Capabilities: nothing added beyond the container runtime's default set."""
    bad: list[dict[str, Any]] = []
    added: set[str] = set()
    for c in _containers(spec):
        extra = {str(cap) for cap in _list(_dict(_sc(c).get("capabilities")).get("add"))} - BASELINE_CAPABILITIES
        if extra:
            bad.append(c)
            added |= extra
    if not bad:
        return None
    detail = f"{_names(bad)} must not include {_quote(sorted(added))} in securityContext.capabilities.add"
    return "non-default capabilities", detail


def host_namespaces(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Host namespaces: hostNetwork, hostPID and hostIPC unset or false."""
    shared = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]
    return ("host namespaces", ", ".join(shared)) if shared else None


def host_path_volumes(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """HostPath volumes: none."""
    names = [str(_dict(v).get("name", "")) for v in _list(spec.get("volumes")) if _dict(v).get("hostPath") is not None]
    return ("hostPath volumes", f"{_plural(len(names), 'volume', 'volumes')} {_quote(names)}") if names else None


def host_ports(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Host ports: unset or 0."""
    bad: list[dict[str, Any]] = []
    ports: set[str] = set()
    for c in _containers(spec):
        used = {str(p.get("hostPort")) for p in map(_dict, _list(c.get("ports"))) if p.get("hostPort") not in (None, 0)}
        if used:
            bad.append(c)
            ports |= used
    if not bad:
        return None
    detail = (
        f"{_names(bad)} {_plural(len(bad), 'uses', 'use')} {_plural(len(ports), 'hostPort', 'hostPorts')} "
        f"{', '.join(sorted(ports))}"
    )
    return "hostPort", detail


def privileged(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Privileged containers: privileged unset or false."""
    bad = [c for c in _containers(spec) if _sc(c).get("privileged") is True]
    return ("privileged", f"{_names(bad)} must not set securityContext.privileged=true") if bad else None


def proc_mount(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """/proc mount type: unset or Default."""
    bad: list[dict[str, Any]] = []
    types: set[str] = set()
    for c in _containers(spec):
        value = _sc(c).get("procMount")
        if value is not None and value != "Default":
            bad.append(c)
            types.add(str(value))
    if not bad:
        return None
    return "procMount", f"{_names(bad)} must not set securityContext.procMount to {_quote(sorted(types))}"


SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})


def selinux_options(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """SELinux: type unset or one of the container types; user and role unset."""
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def forbidden(options: Any) -> bool:
        if not isinstance(options, dict):
            return False
        bad = False
        if str(options.get("type") or "") not in SELINUX_TYPES:
            bad_types.add(str(options.get("type")))
            bad = True
        for key in ("user", "role"):
            if options.get(key):
                flags[key] = bad = True
        return bad

    pod = forbidden(_sc(spec).get("seLinuxOptions"))
    bad = [c for c in _containers(spec) if forbidden(_sc(c).get("seLinuxOptions"))]
    if not pod and not bad:
        return None
    data = [f"{_plural(len(bad_types), 'type', 'types')} {_quote(sorted(bad_types))}"] if bad_types else []
    data += [f"{key} may not be set" for key in ("user", "role") if flags[key]]
    return "seLinuxOptions", f"{_setters(pod, bad)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
SECCOMP_TYPES = ("RuntimeDefault", "Localhost")


def seccomp_baseline_annotations(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Seccomp before v1.19: the (deprecated) annotations may not say unconfined."""
    annotations = _dict(meta.get("annotations"))
    keys = [SECCOMP_POD_ANNOTATION] + [SECCOMP_CONTAINER_ANNOTATION + str(c.get("name", "")) for c in _containers(spec)]
    forbidden = sorted(
        {
            f"{key}={_go_quote(str(annotations[key]))}"
            for key in keys
            if key in annotations
            and not (
                annotations[key] in ("runtime/default", "docker/default")
                or str(annotations[key]).startswith("localhost/")
            )
        }
    )
    if not forbidden:
        return None
    return "seccompProfile", f"forbidden {_plural(len(forbidden), 'annotation', 'annotations')} {', '.join(forbidden)}"


def seccomp_baseline(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Seccomp: the profile type, where set, RuntimeDefault or Localhost (not Unconfined)."""
    values: set[str] = set()
    profile = _sc(spec).get("seccompProfile")
    pod = isinstance(profile, dict) and profile.get("type") not in SECCOMP_TYPES
    if pod:
        values.add(str(_dict(profile).get("type") or ""))
    bad: list[dict[str, Any]] = []
    for c in _containers(spec):
        profile = _sc(c).get("seccompProfile")
        if isinstance(profile, dict) and profile.get("type") not in SECCOMP_TYPES:
            bad.append(c)
            values.add(str(profile.get("type") or ""))
    if not pod and not bad:
        return None
    return (
        "seccompProfile",
        f"{_setters(pod, bad)} must not set securityContext.seccompProfile.type to {_quote(sorted(values))}",
    )


SAFE_SYSCTLS_1_0 = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
)
SAFE_SYSCTLS_1_27 = (*SAFE_SYSCTLS_1_0, "net.ipv4.ip_local_reserved_ports")
SAFE_SYSCTLS_1_29 = (
    *SAFE_SYSCTLS_1_27,
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
)


def _sysctls(safe: tuple[str, ...]) -> CheckFn:
    def check(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
        """Sysctls: only the safe (namespaced, isolated) ones."""
        names = [str(_dict(s).get("name", "")) for s in _list(_sc(spec).get("sysctls"))]
        forbidden = [n for n in names if n not in safe]
        return ("forbidden sysctls", ", ".join(forbidden)) if forbidden else None

    return check


def windows_host_process(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """HostProcess: windowsOptions.hostProcess unset or false, on the pod and every container."""
    pod = _dict(_sc(spec).get("windowsOptions")).get("hostProcess") is True
    bad = [c for c in _containers(spec) if _dict(_sc(c).get("windowsOptions")).get("hostProcess") is True]
    if not pod and not bad:
        return None
    return "hostProcess", f"{_setters(pod, bad)} must not set securityContext.windowsOptions.hostProcess=true"


def allow_privilege_escalation(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Privilege escalation: every container sets allowPrivilegeEscalation=false."""
    bad = [c for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if not bad:
        return None
    return "allowPrivilegeEscalation != false", f"{_names(bad)} must set securityContext.allowPrivilegeEscalation=false"


def capabilities_restricted(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Capabilities: every container drops ALL and adds nothing but NET_BIND_SERVICE."""
    missing_drop: list[dict[str, Any]] = []
    adding: list[dict[str, Any]] = []
    added: set[str] = set()
    for c in _containers(spec):
        capabilities = _dict(_sc(c).get("capabilities"))
        if "ALL" not in _list(capabilities.get("drop")):
            missing_drop.append(c)
        extra = {str(cap) for cap in _list(capabilities.get("add")) if cap != "NET_BIND_SERVICE"}
        if extra:
            adding.append(c)
            added |= extra
    details = [f'{_names(missing_drop)} must set securityContext.capabilities.drop=["ALL"]'] if missing_drop else []
    if adding:
        details.append(f"{_names(adding)} must not include {_quote(sorted(added))} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


ALLOWED_VOLUME_SOURCES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
RESTRICTED_VOLUME_SOURCES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)
"""The volume sources the restricted level refuses, in the order the real plugin names them
(any other source is "unknown")."""


def restricted_volumes(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Volume types: only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim,
    projected and secret."""
    bad: list[str] = []
    types: set[str] = set()
    for volume in map(_dict, _list(spec.get("volumes"))):
        if any(volume.get(key) is not None for key in ALLOWED_VOLUME_SOURCES):
            continue
        bad.append(str(volume.get("name", "")))
        types.add(next((key for key in RESTRICTED_VOLUME_SOURCES if volume.get(key) is not None), "unknown"))
    if not bad:
        return None
    detail = (
        f"{_plural(len(bad), 'volume', 'volumes')} {_quote(bad)} {_plural(len(bad), 'uses', 'use')} "
        f"{_plural(len(types), 'restricted volume type', 'restricted volume types')} {_quote(sorted(types))}"
    )
    return "restricted volume types", detail


def run_as_non_root(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Running as non-root: runAsNonRoot=true on the pod (for the containers that leave it
    unset) or on every container; false anywhere is refused."""
    pod_value = _sc(spec).get("runAsNonRoot")
    explicit = [c for c in _containers(spec) if _sc(c).get("runAsNonRoot") is False]
    if pod_value is False or explicit:
        return (
            "runAsNonRoot != true",
            f"{_setters(pod_value is False, explicit)} must not set securityContext.runAsNonRoot=false",
        )
    implicit = [c for c in _containers(spec) if _sc(c).get("runAsNonRoot") is None and pod_value is not True]
    if implicit:
        return "runAsNonRoot != true", f"pod or {_names(implicit)} must set securityContext.runAsNonRoot=true"
    return None


def _is_root(uid: Any) -> bool:
    return isinstance(uid, int) and not isinstance(uid, bool) and uid == 0


def run_as_user(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Running as non-root user: runAsUser, where set, is not 0 (on the pod or a container)."""
    pod = _is_root(_sc(spec).get("runAsUser"))
    bad = [c for c in _containers(spec) if _is_root(_sc(c).get("runAsUser"))]
    if not pod and not bad:
        return None
    return "runAsUser=0", f"{_setters(pod, bad)} must not set runAsUser=0"


def seccomp_restricted(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
    """Seccomp: RuntimeDefault or Localhost on the pod (for the containers that leave it unset)
    or on every container; Unconfined anywhere is refused."""
    values: set[str] = set()
    profile = _sc(spec).get("seccompProfile")
    pod_bad = isinstance(profile, dict) and profile.get("type") not in SECCOMP_TYPES
    pod_set = isinstance(profile, dict) and not pod_bad
    if pod_bad:
        values.add(str(_dict(profile).get("type") or ""))
    explicit: list[dict[str, Any]] = []
    implicit: list[dict[str, Any]] = []
    for c in _containers(spec):
        profile = _sc(c).get("seccompProfile")
        if isinstance(profile, dict):
            if profile.get("type") not in SECCOMP_TYPES:
                explicit.append(c)
                values.add(str(profile.get("type") or ""))
        elif not pod_set:
            implicit.append(c)
    if pod_bad or explicit:
        values_text = _quote(sorted(values))
        return (
            "seccompProfile",
            f"{_setters(pod_bad, explicit)} must not set securityContext.seccompProfile.type to {values_text}",
        )
    if implicit:
        detail = (
            f'pod or {_names(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"'
        )
        return "seccompProfile", detail
    return None


def _not_on_windows(check: CheckFn) -> CheckFn:
    """From v1.25 a Windows pod (spec.os.name) is exempt: the Linux-only field cannot be set."""

    def windows_exempt(meta: dict[str, Any], spec: dict[str, Any]) -> Result:
        return None if _windows(spec) else check(meta, spec)

    return windows_exempt


@dataclass(frozen=True)
class Check:
    """A check of one level, in versions: each applies from its minimum version to the next.
    `overrides`: the baseline checks a restricted version replaces."""

    id: str
    level: str
    versions: tuple[tuple[Version, CheckFn], ...]
    overrides: tuple[tuple[Version, frozenset[str]], ...] = ()

    def at(self, version: Version) -> CheckFn | None:
        found = None
        for minimum, fn in self.versions:
            if minimum <= version:
                found = fn
        return found

    def overridden_at(self, version: Version) -> frozenset[str]:
        found: frozenset[str] = frozenset()
        for minimum, ids in self.overrides:
            if minimum <= version:
                found = ids
        return found


CHECKS = (
    Check("appArmorProfile", BASELINE, (((1, 0), apparmor_profile),)),
    Check("capabilities_baseline", BASELINE, (((1, 0), capabilities_baseline),)),
    Check("hostNamespaces", BASELINE, (((1, 0), host_namespaces),)),
    Check("hostPathVolumes", BASELINE, (((1, 0), host_path_volumes),)),
    Check("hostPorts", BASELINE, (((1, 0), host_ports),)),
    Check("privileged", BASELINE, (((1, 0), privileged),)),
    Check("procMount", BASELINE, (((1, 0), proc_mount),)),
    Check("seLinuxOptions", BASELINE, (((1, 0), selinux_options),)),
    Check("seccompProfile_baseline", BASELINE, (((1, 0), seccomp_baseline_annotations), ((1, 19), seccomp_baseline))),
    Check(
        "sysctls",
        BASELINE,
        (
            ((1, 0), _sysctls(SAFE_SYSCTLS_1_0)),
            ((1, 27), _sysctls(SAFE_SYSCTLS_1_27)),
            ((1, 29), _sysctls(SAFE_SYSCTLS_1_29)),
        ),
    ),
    Check("windowsHostProcess", BASELINE, (((1, 0), windows_host_process),)),
    Check(
        "allowPrivilegeEscalation",
        RESTRICTED,
        (((1, 8), allow_privilege_escalation), ((1, 25), _not_on_windows(allow_privilege_escalation))),
    ),
    Check(
        "capabilities_restricted",
        RESTRICTED,
        (((1, 22), capabilities_restricted), ((1, 25), _not_on_windows(capabilities_restricted))),
        (((1, 22), frozenset({"capabilities_baseline"})),),
    ),
    Check(
        "restrictedVolumes",
        RESTRICTED,
        (((1, 0), restricted_volumes),),
        (((1, 0), frozenset({"hostPathVolumes"})),),
    ),
    Check("runAsNonRoot", RESTRICTED, (((1, 0), run_as_non_root),)),
    Check("runAsUser", RESTRICTED, (((1, 23), run_as_user),)),
    Check(
        "seccompProfile_restricted",
        RESTRICTED,
        (((1, 19), seccomp_restricted), ((1, 25), _not_on_windows(seccomp_restricted))),
        (((1, 19), frozenset({"seccompProfile_baseline"})),),
    ),
)
"""Every check, baseline then restricted, each group ordered by id: the order reasons are listed in."""


def checks_for(level_version: LevelVersion) -> list[CheckFn]:
    """The checks a level applies at a version (`latest` and later versions: LATEST_DEFINITIONS)."""
    if level_version.level == PRIVILEGED:
        return []
    version = level_version.version or LATEST_DEFINITIONS
    version = min(version, LATEST_DEFINITIONS)
    levels = (BASELINE,) if level_version.level == BASELINE else (BASELINE, RESTRICTED)
    overridden: set[str] = set()
    if level_version.level == RESTRICTED:
        for check in CHECKS:
            if check.level == RESTRICTED:
                overridden |= check.overridden_at(version)
    found = []
    for check in CHECKS:
        fn = check.at(version)
        if check.level in levels and check.id not in overridden and fn is not None:
            found.append(fn)
    return found


def evaluate(level_version: LevelVersion, meta: dict[str, Any], spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The (reason, detail) of each check the pod fails at that level and version."""
    return [result for fn in checks_for(level_version) if (result := fn(meta, spec)) is not None]


def describe(failures: list[tuple[str, str]]) -> str:
    """`reason (detail), reason (detail)`: the text after `violates PodSecurity "LEVEL:VERSION": `."""
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in failures)


# -- the admission plugin ---------------------------------------------------------------------------
Objects = Mapping[tuple[str, str], Mapping[tuple[str, str], dict[str, Any]]]


class PodSecurity:
    """The PodSecurity validating admission plugin, called by `Admission._admit` before the
    ValidatingAdmissionPolicies (its place in the real server's admission chain)."""

    def __init__(self, config: Configuration | None = None) -> None:
        self.config = config or Configuration()
        self.audit: deque[AuditEvent] = deque(maxlen=1000)

    def admit(
        self,
        objects: Objects,
        rt: ResourceType,
        operation: str,
        namespace: str | None,
        name: str,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        subresource: str,
        warnings: list[str] | None,
    ) -> None:
        """Raises the refusal of a write, appends its warnings; a cheap no-op for other resources."""
        resource = rt.group_resource
        if resource not in RESOURCES or operation not in ("CREATE", "UPDATE") or obj is None:
            return
        shown: list[str] = []
        meta = _dict(obj.get("metadata"))
        subject = name or str(meta.get("name", ""))
        if resource == NAMESPACES:
            if not subresource:
                shown = self._namespace(objects, operation, subject, meta, _dict(_dict(old).get("metadata")))
        else:
            ns = namespace or str(meta.get("namespace", ""))
            stored = objects.get(NAMESPACES, {}).get(("", ns))
            if stored is not None:
                shown = self._workload(resource, operation, ns, subject, obj, old, subresource, stored)
        if warnings is not None:
            warnings.extend(shown)

    # -- namespaces -------------------------------------------------------------------------------
    def _namespace(
        self, objects: Objects, operation: str, name: str, meta: dict[str, Any], old_meta: dict[str, Any]
    ) -> list[str]:
        """Invalid labels are refused; a raised enforce level warns of the pods it would refuse."""
        labels = _dict(meta.get("labels"))
        policy, problems = policy_for(labels, self.config.defaults)
        if operation == "CREATE":
            if problems:
                raise errors.invalid("Namespace", "", name, problems)
            return self._exempt_namespace_warning(name, policy, labels)
        old_policy, old_problems = policy_for(_dict(old_meta.get("labels")), self.config.defaults)
        if problems and (not old_problems or problems != old_problems):
            raise errors.invalid("Namespace", "", name, problems)
        new, before = policy.enforce, old_policy.enforce
        if new == before or new.level == PRIVILEGED:
            return []
        if new.version == before.version and compare_levels(new.level, before.level) < 1:
            return []
        if name in self.config.exemptions.namespaces:
            return self._exempt_namespace_warning(name, policy, labels)
        return self._existing_pods(objects, name, new)

    def _exempt_namespace_warning(self, name: str, policy: Policy, labels: dict[str, Any]) -> list[str]:
        if name not in self.config.exemptions.namespaces:
            return []
        if policy.fully_privileged or policy.equivalent(self.config.defaults):
            return []
        modes = [
            f"{mode}={getattr(policy, mode)}"
            for mode in MODES
            if getattr(policy, mode).level != PRIVILEGED
            and (PREFIX + mode in labels or PREFIX + mode + "-version" in labels)
        ]
        return [f'namespace "{name}" is exempt from Pod Security, and the policy ({", ".join(modes)}) will be ignored']

    def _existing_pods(self, objects: Objects, namespace: str, enforce: LevelVersion) -> list[str]:
        """The documented warnings of a raised enforce level: one line per distinct set of
        reasons, naming the first pod (by name) and how many others share it."""
        exempt = self.config.exemptions.runtime_classes
        pods = [
            pod
            for (ns, _), pod in sorted(objects.get(PODS, {}).items())
            if ns == namespace and _dict(pod.get("spec")).get("runtimeClassName") not in exempt
        ]
        # One pod per controller first: replicas are alike, so they are checked last.
        first, replicas, seen = [], [], set()
        for pod in pods:
            owner = next(
                (
                    r.get("uid")
                    for r in _list(_dict(pod.get("metadata")).get("ownerReferences"))
                    if _dict(r).get("controller")
                ),
                None,
            )
            if owner is not None and owner in seen:
                replicas.append(pod)
            else:
                first.append(pod)
                if owner is not None:
                    seen.add(owner)
        ordered = first + replicas
        checked = ordered[:MAX_PODS_CHECKED]
        by_reason: dict[str, tuple[str, int]] = {}
        for pod in checked:
            failures = evaluate(enforce, _dict(pod.get("metadata")), _dict(pod.get("spec")))
            if failures:
                reason = ", ".join(r for r, _ in failures)
                pod_name = str(_dict(pod.get("metadata")).get("name", ""))
                earliest, count = by_reason.get(reason, (pod_name, 0))
                by_reason[reason] = (min(earliest, pod_name), count + 1)
        warnings = []
        if len(checked) < len(ordered):
            warnings.append(
                f"new PodSecurity enforce level only checked against the first {len(checked)} of {len(ordered)} "
                "existing pods"
            )
        if by_reason:
            warnings.append(
                f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce level "{enforce}"'
            )
        lines = []
        for reason, (pod_name, count) in by_reason.items():
            if count == 1:
                lines.append(f"{pod_name}: {reason}")
            elif count == 2:
                lines.append(f"{pod_name} (and 1 other pod): {reason}")
            else:
                lines.append(f"{pod_name} (and {count - 1} other pods): {reason}")
        return warnings + sorted(lines)

    # -- pods and workload resources --------------------------------------------------------------
    def _workload(
        self,
        resource: tuple[str, str],
        operation: str,
        namespace: str,
        name: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        subresource: str,
        stored_namespace: dict[str, Any],
    ) -> list[str]:
        """A Pod is enforced, audited and warned; a workload resource's template audited and warned."""
        is_pod = resource == PODS
        ignored = subresource in IGNORED_POD_SUBRESOURCES if is_pod else bool(subresource)
        if ignored:  # pods/status, a workload's scale or status: no pod spec changes there
            return []
        exemptions = self.config.exemptions
        audit = _Audit(self, operation, resource[1], namespace, name)
        if namespace in exemptions.namespaces:
            return audit.exempt("namespace")
        if identity.current().username in exemptions.usernames:
            return audit.exempt("user")
        policy, problems = policy_for(
            _dict(_dict(stored_namespace.get("metadata")).get("labels")), self.config.defaults
        )
        if is_pod:
            if not problems and policy.fully_privileged:
                return []
            if operation == "UPDATE" and old is not None and not significant_pod_update(obj, old):
                return []
            meta, spec = _dict(obj.get("metadata")), _dict(obj.get("spec"))
        else:
            if not problems and policy.warn.level == PRIVILEGED and policy.audit.level == PRIVILEGED:
                return []
            template: Any = obj
            for key in TEMPLATES[resource]:
                template = _dict(template).get(key)
            if template is None:
                return []
            meta, spec = _dict(_dict(template).get("metadata")), _dict(_dict(template).get("spec"))
        if spec.get("runtimeClassName") and spec["runtimeClassName"] in exemptions.runtime_classes:
            return audit.exempt("runtimeClass")
        if problems:
            text = str(problems[0]) if len(problems) == 1 else "[" + ", ".join(str(p) for p in problems) + "]"
            audit.annotations["error"] = f"Failed to parse policy: {text}"
        results: dict[LevelVersion, list[tuple[str, str]]] = {}

        def failures(level_version: LevelVersion) -> list[tuple[str, str]]:
            if level_version not in results:
                results[level_version] = evaluate(level_version, meta, spec)
            return results[level_version]

        refusal = None
        if is_pod:
            audit.annotations["enforce-policy"] = str(policy.enforce)
            if failures(policy.enforce):
                why = f'violates PodSecurity "{policy.enforce}": {describe(failures(policy.enforce))}'
                refusal = errors.forbidden("pods", "", name, why)
        if failures(policy.audit):
            audit.annotations["audit-violations"] = (
                f'would violate PodSecurity "{policy.audit}": {describe(failures(policy.audit))}'
            )
        audit.record()
        if refusal is not None:
            raise refusal
        if failures(policy.warn):
            return [f'would violate PodSecurity "{policy.warn}": {describe(failures(policy.warn))}']
        return []


def significant_pod_update(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether a Pod update is checked: the documented exempt updates (metadata but the seccomp
    and AppArmor annotations, activeDeadlineSeconds, tolerations) change no container image, no
    container count and add no ephemeral container."""
    spec, old_spec = _dict(new.get("spec")), _dict(old.get("spec"))
    for key in ("containers", "initContainers"):
        now, before = _list(spec.get(key)), _list(old_spec.get(key))
        if len(now) != len(before):
            return True
        if any(_dict(a).get("image") != _dict(b).get("image") for a, b in zip(now, before, strict=True)):
            return True
    before_ephemeral = {_dict(c).get("name"): _dict(c).get("image") for c in _list(old_spec.get("ephemeralContainers"))}
    for container in map(_dict, _list(spec.get("ephemeralContainers"))):
        added = container.get("name")
        if added not in before_ephemeral or before_ephemeral[added] != container.get("image"):
            return True  # added, or its image changed
    return _profile_annotations(new) != _profile_annotations(old)


def _profile_annotations(pod: dict[str, Any]) -> dict[str, Any]:
    annotations = _dict(_dict(pod.get("metadata")).get("annotations"))
    prefixes = (SECCOMP_POD_ANNOTATION, SECCOMP_CONTAINER_ANNOTATION, APPARMOR_ANNOTATION)
    return {k: v for k, v in annotations.items() if k.startswith(prefixes)}


class _Audit:
    """The audit annotations of one request, recorded when they say more than the policy."""

    def __init__(self, plugin: PodSecurity, operation: str, resource: str, namespace: str, name: str) -> None:
        self.plugin = plugin
        self.event = AuditEvent(operation, resource, namespace, name, {})
        self.annotations: dict[str, str] = {}

    def exempt(self, reason: str) -> list[str]:
        self.annotations["exempt"] = reason
        self.record()
        return []

    def record(self) -> None:
        if set(self.annotations) - {"enforce-policy"}:
            self.event.annotations = {PREFIX + k: v for k, v in self.annotations.items()}
            self.plugin.audit.append(self.event)
