"""`podman run` arguments that run a container of a Kubernetes pod spec the way a kubelet
would on this host: its host namespaces, capabilities, security options, hostPath and
emptyDir and ConfigMap volumes, environment (envFrom ConfigMaps, $(VAR) expansion in
args), CPU and memory limits. Host paths can be redirected (`host_path`) so that a test
does not touch the node's real /run/vhostd; ConfigMap and downwardAPI volumes are
directories the caller prepared (`volume_dirs`, by volume name); everything else is
taken as written.
Raises ValueError for a field it does not know how to run, so a new field in the
manifest cannot be silently left out of the test.
"""

import os
import re

VAR_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
RUNC = ["--runtime=runc"]
# runc cannot raise these in a container whose parent lowered them (see README, Deploy).
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

POD_FIELDS = {"serviceAccountName", "automountServiceAccountToken", "hostNetwork", "hostPID", "dnsPolicy",
              "priorityClassName", "nodeSelector", "tolerations", "terminationGracePeriodSeconds",
              "initContainers", "containers", "volumes", "restartPolicy"}
CONTAINER_FIELDS = {"name", "image", "imagePullPolicy", "command", "args", "env", "envFrom", "ports", "resources",
                    "startupProbe", "livenessProbe", "readinessProbe", "securityContext", "volumeMounts"}
SECURITY_FIELDS = {"runAsUser", "privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities"}


def expand(text, env):
    """Kubernetes' $(VAR) expansion: defined variables are replaced, others left as they are."""
    return VAR_REFERENCE.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def _unknown(kind, data, known):
    extra = sorted(set(data) - known)
    if extra:
        raise ValueError("%s: podman_from_pod does not run %s yet" % (kind, ", ".join(extra)))


def container_env(container, config_maps, field_values):
    """The container's environment: envFrom ConfigMaps, then env (values or fieldRefs)."""
    env = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = expand(var["value"], env)
        else:
            env[var["name"]] = field_values[var["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def _security_args(context):
    _unknown("securityContext", context, SECURITY_FIELDS)
    args = []
    if "runAsUser" in context:
        args += ["--user", str(context["runAsUser"])]
    if context.get("privileged"):
        args.append("--privileged")
    if context.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    if context.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    caps = context.get("capabilities", {})
    if "ALL" in caps.get("drop", []):
        args.append("--cap-drop=all")
    if caps.get("add"):
        args.append("--cap-add=" + ",".join(caps["add"]))
    return args


def _volume_args(pod_spec, container, host_path, volume_dirs):
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    args = []
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        options = ["ro"] if mount.get("readOnly") else []
        if mount.get("mountPropagation") == "HostToContainer":
            options.append("rslave")
        suffix = ":" + ",".join(options) if options else ""
        if "hostPath" in volume:
            path = host_path(volume["hostPath"]["path"])
            if volume["hostPath"].get("type") == "DirectoryOrCreate":
                os.makedirs(path, exist_ok=True)
            args += ["-v", "%s:%s%s" % (path, mount["mountPath"], suffix)]
        elif "emptyDir" in volume:
            args += ["--tmpfs", mount["mountPath"]]
        elif "configMap" in volume or "downwardAPI" in volume:
            args += ["-v", "%s:%s%s" % (volume_dirs[mount["name"]], mount["mountPath"], suffix)]
        else:
            raise ValueError("volume %s: podman_from_pod runs hostPath, emptyDir, configMap and downwardAPI volumes"
                             % mount["name"])
    return args


def _resource_args(container):
    limits = container.get("resources", {}).get("limits", {})
    args = []
    if "cpu" in limits:
        cpu = str(limits["cpu"])
        args += ["--cpus", str(int(cpu[:-1]) / 1000) if cpu.endswith("m") else cpu]
    if "memory" in limits:
        args += ["--memory", limits["memory"].replace("Gi", "g").replace("Mi", "m")]
    return args


def podman_run_args(pod_spec, container, name, config_maps, host_path, volume_dirs, field_values,
                    extra_env=None, cpuset=None):
    """The arguments of `podman run` after "run" for `container` of `pod_spec`. extra_env
    overrides variables (as an overlay's ConfigMap would); cpuset stands in for the CPUs
    a static CPU manager would give a Guaranteed pod."""
    _unknown("pod spec", pod_spec, POD_FIELDS)
    _unknown("container " + container["name"], container, CONTAINER_FIELDS)
    env = container_env(container, config_maps, field_values)
    env.update(extra_env or {})
    args = ["--name", name] + ULIMITS
    if pod_spec.get("hostNetwork"):
        args.append("--network=host")
    if pod_spec.get("hostPID"):
        args.append("--pid=host")
    args += _security_args(container.get("securityContext", {}))
    args += _volume_args(pod_spec, container, host_path, volume_dirs)
    args += _resource_args(container)
    if cpuset:
        args += ["--cpuset-cpus", cpuset]
    for key, value in sorted(env.items()):
        args += ["-e", "%s=%s" % (key, value)]
    if "command" in container:
        args += ["--entrypoint", container["command"][0]]
    args.append(container["image"])
    args += [expand(a, env) for a in container.get("command", [])[1:] + container.get("args", [])]
    return args
