"""The Kustomize side of deploy/kubernetes: each kustomization's resources and patches
exist and nothing in its directory is left out, and `kubectl kustomize` (when kubectl
is installed; Debian 12's own kubectl is too old and clashes, see README.md) renders it.
"""

import glob
import os
import shutil
import subprocess

import yaml

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "patches", "images", "namespace", "commonLabels",
                      "labels", "configMapGenerator", "components"}


def load_kustomization(directory):
    with open(os.path.join(directory, "kustomization.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def check_kustomization(directory):
    """Problems of one kustomization.yaml, naming the field."""
    where = os.path.join(directory, "kustomization.yaml")
    k = load_kustomization(directory)
    problems = ["%s: %s: unknown field" % (where, key) for key in sorted(set(k) - KUSTOMIZATION_KEYS)]
    if (k.get("apiVersion"), k.get("kind")) != ("kustomize.config.k8s.io/v1beta1", "Kustomization"):
        problems.append("%s: apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization" % where)
    used = set()
    for i, resource in enumerate(k.get("resources", [])):
        path = os.path.normpath(os.path.join(directory, resource))
        if os.path.isdir(path):
            if not os.path.exists(os.path.join(path, "kustomization.yaml")):
                problems.append("%s: resources[%d] %s: a directory without kustomization.yaml" % (where, i, resource))
        elif not os.path.isfile(path):
            problems.append("%s: resources[%d] %s: no such file" % (where, i, resource))
        used.add(path)
    for i, patch in enumerate(k.get("patches", [])):
        path = os.path.normpath(os.path.join(directory, patch.get("path", "")))
        if not os.path.isfile(path):
            problems.append("%s: patches[%d].path %s: no such file" % (where, i, patch.get("path")))
        if not patch.get("target", {}).get("kind"):
            problems.append("%s: patches[%d].target.kind: missing" % (where, i))
        used.add(path)
    for leftover in sorted(set(glob.glob(os.path.join(directory, "*.yaml"))) - used - {os.path.normpath(where)}):
        problems.append("%s: %s is neither a resource nor a patch of it" % (where, os.path.basename(leftover)))
    return problems


def patch_files(directory):
    return [os.path.join(directory, p["path"]) for p in load_kustomization(directory).get("patches", [])]


def plain_files(directory):
    """The YAML files a kustomization lists, its bases' first (what `kubectl apply -f`
    of each file would create, before any patch)."""
    files = []
    for resource in load_kustomization(directory).get("resources", []):
        path = os.path.normpath(os.path.join(directory, resource))
        files += plain_files(path) if os.path.isdir(path) else [path]
    return files


def kubectl():
    return shutil.which("kubectl")


def render(directory):
    """`kubectl kustomize DIRECTORY` as a list of objects (needs no cluster)."""
    result = subprocess.run([kubectl(), "kustomize", directory], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError("kubectl kustomize %s: %s" % (directory, result.stderr.strip()))
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]
