"""Checks across the objects of one deployment (a rendered base or overlay, or the
networks and examples): what a schema cannot see, such as a mount naming no volume,
a flag from a ConfigMap key that does not exist, or a CPU request that does not
reserve the polling cores. Each function returns a list of problems naming the field.
"""

import json
import re

VAR_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def find(objects, kind, name=None):
    return [o for o in objects if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]


def daemonset(objects):
    found = find(objects, "DaemonSet", "vhostd")
    return found[0] if found else None


def vhostd_container(ds):
    return next(c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "vhostd")


def flag_value(container, flag):
    """The value of --flag=VALUE in the container's args (None when absent)."""
    for arg in container.get("args", []):
        if arg.startswith(flag + "="):
            return arg[len(flag) + 1:]
    return None


def config_map_data(objects, name, namespace):
    for cm in find(objects, "ConfigMap", name):
        if cm["metadata"].get("namespace") == namespace:
            return cm.get("data") or {}
    return None


def _pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj["spec"]
    return obj["spec"]["template"]["spec"]


def _all_containers(pod_spec):
    return pod_spec.get("initContainers", []) + pod_spec.get("containers", [])


def check_references(objects):
    """Volumes, ConfigMaps, ServiceAccounts and $(VARS) that a pod refers to exist."""
    problems = []
    for obj in find(objects, "DaemonSet") + find(objects, "Pod"):
        where = "%s/%s" % (obj["kind"], obj["metadata"]["name"])
        namespace = obj["metadata"].get("namespace")
        spec = _pod_spec(obj)
        account = spec.get("serviceAccountName")
        if account and not any(sa["metadata"].get("namespace") == namespace
                               for sa in find(objects, "ServiceAccount", account)):
            problems.append("%s: serviceAccountName %s: no such ServiceAccount in %s" % (where, account, namespace))
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        mounted = set()
        for volume in volumes.values():
            if "configMap" in volume and config_map_data(objects, volume["configMap"]["name"], namespace) is None:
                problems.append("%s: volume %s: no ConfigMap %s" % (where, volume["name"], volume["configMap"]["name"]))
        for c in _all_containers(spec):
            cwhere = "%s container %s" % (where, c["name"])
            for mount in c.get("volumeMounts", []):
                mounted.add(mount["name"])
                if mount["name"] not in volumes:
                    problems.append("%s: volumeMounts %s: no such volume" % (cwhere, mount["name"]))
            names = {e["name"] for e in c.get("env", [])}
            for source in c.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                data = config_map_data(objects, ref, namespace)
                if data is None:
                    problems.append("%s: envFrom: no ConfigMap %s" % (cwhere, ref))
                else:
                    names |= set(data)
            for arg in c.get("command", []) + c.get("args", []):
                for var in VAR_REFERENCE.findall(arg):
                    if var not in names:
                        problems.append("%s: %r refers to $(%s), which no env or ConfigMap key defines"
                                        % (cwhere, arg, var))
        for unused in sorted(set(volumes) - mounted):
            problems.append("%s: volume %s is mounted by no container" % (where, unused))
    return problems


def check_guaranteed_cpus(objects):
    """Guaranteed QoS (requests = limits, CPU and memory, every container) and whole CPUs
    for vhostd: its polling cores plus one for the control threads."""
    problems = []
    for obj in find(objects, "DaemonSet") + find(objects, "Pod"):
        for c in _all_containers(_pod_spec(obj)):
            where = "%s/%s container %s" % (obj["kind"], obj["metadata"]["name"], c["name"])
            resources = c.get("resources", {})
            requests, limits = resources.get("requests", {}), resources.get("limits", {})
            for resource in ("cpu", "memory"):
                if resource not in requests or requests.get(resource) != limits.get(resource):
                    problems.append("%s: resources: %s requests and limits must be set and equal (Guaranteed QoS)"
                                    % (where, resource))
    ds = daemonset(objects)
    if ds is None:
        return problems
    cpu = vhostd_container(ds).get("resources", {}).get("requests", {}).get("cpu", "")
    data = config_map_data(objects, "vhostd-config", ds["metadata"]["namespace"]) or {}
    polling = data.get("VHOSTD_POLLING_CORES", "")
    if not re.fullmatch(r"[1-9][0-9]*", str(cpu)):
        problems.append("DaemonSet/vhostd: resources.requests.cpu %r: must be a whole number of CPUs" % cpu)
    elif not re.fullmatch(r"[1-9][0-9]*", polling):
        problems.append("ConfigMap/vhostd-config: VHOSTD_POLLING_CORES %r: must be a number >= 1" % polling)
    elif int(cpu) != int(polling) + 1:
        problems.append("DaemonSet/vhostd: resources.requests.cpu %s must be VHOSTD_POLLING_CORES (%s) + 1"
                        % (cpu, polling))
    return problems


def check_security(objects):
    problems = []
    for obj in find(objects, "DaemonSet") + find(objects, "Pod"):
        for c in _all_containers(_pod_spec(obj)):
            context = c.get("securityContext", {})
            if context.get("privileged") and context.get("allowPrivilegeEscalation") is False:
                problems.append("%s/%s container %s: privileged with allowPrivilegeEscalation false, which the "
                                "API server refuses" % (obj["kind"], obj["metadata"]["name"], c["name"]))
    return problems


def check_host_paths(objects):
    """vhostd's sockets and state are on hostPath volumes mounted at the node's own paths,
    so the paths it reports (and vhostd-cni passes on) are the node's."""
    ds = daemonset(objects)
    if ds is None:
        return []
    spec = ds["spec"]["template"]["spec"]
    host_path = {v["name"]: v["hostPath"]["path"] for v in spec.get("volumes", []) if "hostPath" in v}
    container = vhostd_container(ds)
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    problems = []
    for flag in ("--grpc-socket", "--socket-dir", "--state-file"):
        value = flag_value(container, flag)
        if value is None:
            problems.append("DaemonSet/vhostd: args: %s missing" % flag)
            continue
        holder = max((p for p in mounts if value == p or value.startswith(p.rstrip("/") + "/")), key=len, default=None)
        if holder is None or mounts[holder] not in host_path:
            problems.append("DaemonSet/vhostd: %s=%s is on no hostPath volume" % (flag, value))
        elif host_path[mounts[holder]] != holder:
            problems.append("DaemonSet/vhostd: %s: volume %s mounts the node's %s at %s (must be the same path)"
                            % (flag, mounts[holder], host_path[mounts[holder]], holder))
    return problems


def check_metrics_port(objects):
    """One port everywhere: the flag's ConfigMap key, the containerPort, the scrape
    annotation and the Service."""
    ds = daemonset(objects)
    if ds is None:
        return []
    data = config_map_data(objects, "vhostd-config", ds["metadata"]["namespace"]) or {}
    port = str(data.get("VHOSTD_METRICS_PORT"))
    container = vhostd_container(ds)
    seen = {
        "ConfigMap VHOSTD_METRICS_PORT": port,
        "containerPort metrics": str(next((p["containerPort"] for p in container.get("ports", [])
                                           if p.get("name") == "metrics"), None)),
        "annotation prometheus.io/port": ds["spec"]["template"]["metadata"].get("annotations", {}).get(
            "prometheus.io/port"),
    }
    for service in find(objects, "Service"):
        for p in service["spec"].get("ports", []):
            if p.get("name") == "metrics":
                seen["Service %s port" % service["metadata"]["name"]] = str(p.get("port"))
    if len(set(seen.values())) != 1:
        return ["DaemonSet/vhostd: the metrics port differs: %s" % json.dumps(seen, sort_keys=True)]
    return []


def check_deployment(objects):
    return (check_references(objects) + check_guaranteed_cpus(objects) + check_security(objects)
            + check_host_paths(objects) + check_metrics_port(objects))


def check_networks(networks, ds):
    """NetworkAttachmentDefinitions reach the DaemonSet's daemon and socket directory."""
    container = vhostd_container(ds)
    grpc_socket, socket_dir = flag_value(container, "--grpc-socket"), flag_value(container, "--socket-dir")
    problems = []
    for nad in networks:
        where = "NetworkAttachmentDefinition/%s" % nad["metadata"]["name"]
        conf = json.loads(nad["spec"]["config"])
        if conf.get("name") != nad["metadata"]["name"]:
            problems.append("%s: config name %r differs from the object's name" % (where, conf.get("name")))
        if conf.get("server", "unix:/run/vhostd/vhostd.sock") != "unix:" + grpc_socket:
            problems.append("%s: server %s is not the DaemonSet's --grpc-socket %s" % (where, conf["server"], grpc_socket))
        user_dir = conf.get("vhostUser", {}).get("socketDir")
        if user_dir and not (user_dir == socket_dir or user_dir.startswith(socket_dir + "/")):
            problems.append("%s: vhostUser.socketDir %s is outside the DaemonSet's --socket-dir %s"
                            % (where, user_dir, socket_dir))
    return problems


def check_examples(examples, networks):
    """The example pod and VM name networks that exist; the pod mounts the node's
    socket directory of its vhost-user network at the same path."""
    by_name = {"%s/%s" % (n["metadata"]["namespace"], n["metadata"]["name"]): n for n in networks}
    problems = []
    for pod in find(examples, "Pod"):
        where = "Pod/%s" % pod["metadata"]["name"]
        namespace = pod["metadata"]["namespace"]
        wanted = pod["metadata"].get("annotations", {}).get("k8s.v1.cni.cncf.io/networks", "")
        host_dirs = {v["name"]: v["hostPath"]["path"] for v in pod["spec"].get("volumes", []) if "hostPath" in v}
        mounts = {m["name"]: m["mountPath"] for c in pod["spec"]["containers"] for m in c.get("volumeMounts", [])}
        for name in filter(None, (n.strip() for n in wanted.split(","))):
            key = name if "/" in name else "%s/%s" % (namespace, name)
            if key not in by_name:
                problems.append("%s: network %s: no such NetworkAttachmentDefinition" % (where, key))
                continue
            socket_dir = json.loads(by_name[key]["spec"]["config"]).get("vhostUser", {}).get("socketDir")
            if socket_dir and not any(host_dirs[v] == socket_dir == mounts.get(v) for v in host_dirs):
                problems.append("%s: network %s: the node's %s is not mounted at the same path" % (where, key, socket_dir))
    for vmi in find(examples, "VirtualMachineInstance"):
        for network in vmi["spec"].get("networks", []):
            name = network.get("multus", {}).get("networkName")
            if name and name not in by_name:
                problems.append("VirtualMachineInstance/%s: network %s: no such NetworkAttachmentDefinition"
                                % (vmi["metadata"]["name"], name))
    return problems
