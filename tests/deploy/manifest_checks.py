"""Offline checks of Kubernetes manifests: YAML, kinds, required fields, types and
unknown fields, without an API server.

Built-in kinds are checked against python3-kubernetes' models (Kubernetes 1.22's API):
every key must be an attribute of the model (unknown fields fail, so does a field newer
than 1.22), every value must have the model's type, and the model's constructor
rejects missing required fields and bad enum values. Custom resources are checked
against the strict schemas in schemas/ (python3-jsonschema). Run with /usr/bin/python3.

    problems = check_documents(load_documents(path), path)   # [] when valid
"""

import json
import os
import re

import jsonschema
import kubernetes.client.models as models
import yaml
from kubernetes.client import Configuration

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")

# (apiVersion, kind) -> model class name, for the built-in kinds the manifests use.
BUILTIN_KINDS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Service"): "V1Service",
    ("v1", "Pod"): "V1Pod",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
}
# (apiVersion, kind) -> schema file, for the custom resources.
CUSTOM_KINDS = {
    ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition"): "network-attachment-definition.schema.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "service-monitor.schema.yaml",
    ("kubevirt.io/v1", "VirtualMachineInstance"): "virtual-machine-instance.schema.yaml",
}
CLUSTER_SCOPED = {"Namespace"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class DuplicateKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; this loader refuses them."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


DuplicateKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_documents(path):
    """Every non-empty YAML document of the file (raises yaml.YAMLError on bad YAML)."""
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.load_all(f, Loader=DuplicateKeyLoader) if doc is not None]


def load_schema(name):
    with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
        return yaml.safe_load(f)


# --- built-in kinds: python3-kubernetes' models ------------------------------------------

_NO_NETWORK_CONFIG = Configuration()
_NO_NETWORK_CONFIG.client_side_validation = True
_PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "datetime": str, "date": str}


def _check_value(type_name, value, path, problems, partial=False):
    """Checks `value` against the model type `type_name` (e.g. "list[V1Container]")."""
    if value is None or type_name == "object":
        return
    match = re.match(r"list\[(.+)\]$", type_name)
    if match:
        if not isinstance(value, list):
            problems.append("%s: must be a list" % path)
            return
        for i, item in enumerate(value):
            _check_value(match.group(1), item, "%s[%d]" % (path, i), problems, partial)
        return
    match = re.match(r"dict\(str, (.+)\)$", type_name)
    if match:
        if not isinstance(value, dict):
            problems.append("%s: must be a mapping" % path)
            return
        for key, item in value.items():
            _check_value(match.group(1), item, "%s.%s" % (path, key), problems, partial)
        return
    if type_name in _PRIMITIVES:
        wanted = _PRIMITIVES[type_name]
        if isinstance(value, bool) and type_name != "bool" or not isinstance(value, wanted):
            problems.append("%s: must be %s, not %s %r" % (path, type_name, type(value).__name__, value))
        return
    _check_model(getattr(models, type_name), value, path, problems, partial)


def _check_model(cls, data, path, problems, partial=False):
    if not isinstance(data, dict):
        problems.append("%s: must be a mapping (%s)" % (path, cls.__name__))
        return
    python_name = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    for key, value in data.items():
        if key not in python_name:
            problems.append("%s.%s: unknown field of %s" % (path, key, cls.__name__))
        else:
            _check_value(cls.openapi_types[python_name[key]], value, "%s.%s" % (path, key), problems, partial)
    if partial:
        return
    # The models' setters refuse a missing required field and a value outside an enum.
    present = {python_name[k]: v for k, v in data.items() if k in python_name}
    try:
        cls(local_vars_configuration=_NO_NETWORK_CONFIG, **present)
    except ValueError as e:
        problems.append("%s: %s (%s)" % (path, e, cls.__name__))


def check_metadata(doc, where):
    problems = []
    metadata = doc.get("metadata")
    _check_model(models.V1ObjectMeta, metadata, where + ".metadata", problems)
    if not isinstance(metadata, dict):
        return problems
    name = metadata.get("name")
    if not isinstance(name, str) or not DNS_SUBDOMAIN.match(name):
        problems.append("%s.metadata.name: missing or not a DNS name: %r" % (where, name))
    if doc.get("kind") not in CLUSTER_SCOPED and not metadata.get("namespace"):
        problems.append("%s.metadata.namespace: missing (a namespaced kind)" % where)
    return problems


def check_document(doc, where, partial=False):
    """Problems of one object (strings naming the field), [] when valid. partial: a
    Kustomize patch, whose required fields are in the object it patches (built-in kinds
    only: unknown fields and types are still checked)."""
    if not isinstance(doc, dict):
        return ["%s: not a mapping" % where]
    key = (doc.get("apiVersion"), doc.get("kind"))
    where = "%s %s/%s" % (where, key[1], (doc.get("metadata") or {}).get("name", "?"))
    if key in BUILTIN_KINDS:
        problems = []
        _check_model(getattr(models, BUILTIN_KINDS[key]), doc, key[1], problems, partial)
        problems = ["%s: %s" % (where, p) for p in problems]
    elif key in CUSTOM_KINDS:
        validator = jsonschema.Draft202012Validator(load_schema(CUSTOM_KINDS[key]))
        problems = ["%s: %s: %s" % (where, "/".join(map(str, e.absolute_path)) or "(top)", e.message)
                    for e in validator.iter_errors(doc)]
    else:
        return ["%s: unknown kind %s %s" % (where, key[0], key[1])]
    return problems + check_metadata(doc, where)


def check_documents(docs, where, partial=False):
    problems = []
    for i, doc in enumerate(docs):
        problems += check_document(doc, "%s[%d]" % (where, i), partial)
    return problems


# --- vhostd-cni's network configuration ---------------------------------------------------

# Spec fields vhostd-cni sets itself for each attachment (a config must leave them out).
CNI_OWNED_SPEC_FIELDS = {
    "vhost-user": {"socketPath", "mode"},
    "vhost-kernel": {"tapName", "netns", "mac", "mtu"},
    "vdpa": {"device"},
}


def check_cni_config(text, where, spec_message_for):
    """Problems of a vhostd-cni network configuration (JSON text). `spec_message_for(
    port_type)` returns the plugin's spec message class (or None for an unknown type):
    the config's "spec" must parse into it as protobuf JSON, unknown fields refused."""
    from google.protobuf import json_format
    try:
        conf = json.loads(text)
    except ValueError as e:
        return ["%s: not JSON: %s" % (where, e)]
    validator = jsonschema.Draft202012Validator(load_schema("vhostd-cni-config.schema.yaml"))
    problems = ["%s: %s: %s" % (where, "/".join(map(str, e.absolute_path)) or "(top)", e.message)
                for e in validator.iter_errors(conf)]
    if problems or not isinstance(conf, dict):
        return problems
    port_type = conf["portType"]
    message = spec_message_for(port_type)
    if message is None:
        return ["%s: portType: no shipped plugin serves %r" % (where, port_type)]
    spec = conf.get("spec", {})
    for field in sorted(CNI_OWNED_SPEC_FIELDS.get(port_type, set()) & set(spec)):
        problems.append("%s: spec.%s: set by vhostd-cni for each attachment" % (where, field))
    try:
        json_format.ParseDict(spec, message())
    except json_format.ParseError as e:
        problems.append("%s: spec: %s" % (where, e))
    return problems
