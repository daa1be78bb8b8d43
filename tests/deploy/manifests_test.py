"""deploy/kubernetes validated offline: every manifest against Kubernetes' models or a
strict schema (unknown fields fail), the NetworkAttachmentDefinitions' CNI configs
against what vhostd-cni and the port types' own messages accept, every kustomization
rendered (kubectl kustomize) and checked again as a whole, and the checks themselves
shown to catch the mistakes they are for.

Run: bazel test //tests/deploy:manifests_test (Debian's /usr/bin/python3 with
python3-kubernetes, python3-jsonschema, python3-yaml, python3-protobuf).
"""

import copy
import glob
import json
import os
import shutil
import sys
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "testlib"))

import deployment_checks  # noqa: E402
import kustomize_tree  # noqa: E402
import manifest_checks  # noqa: E402
import vhostd_proc  # noqa: E402

# A copy with the files themselves: kustomize finds no kustomization.yaml that is a
# symbolic link, as Bazel's runfiles are.
_COPY = tempfile.TemporaryDirectory(prefix="manifests")
KUBERNETES = shutil.copytree(os.path.join(os.path.dirname(os.path.dirname(HERE)), "deploy", "kubernetes"),
                             os.path.join(_COPY.name, "kubernetes"), ignore=shutil.ignore_patterns("BUILD.bazel"))
BASE = os.path.join(KUBERNETES, "base")
OVERLAYS = sorted(glob.glob(os.path.join(KUBERNETES, "overlays", "*")))
NETWORKS = os.path.join(KUBERNETES, "networks")
EXAMPLES = os.path.join(KUBERNETES, "examples")
KUSTOMIZATIONS = [BASE] + OVERLAYS + [NETWORKS, EXAMPLES]


def say(text):
    print(text, flush=True)


def spec_message_for(port_type):
    """The shipped plugin's spec message for a port type (vhost-user -> VhostUserSpec)."""
    package = "vhostd.plugins.%s.v1." % port_type.replace("-", "_")
    found = [cls for name, cls in vhostd_proc.plugin_messages().items()
             if name.startswith(package) and name.endswith("Spec")]
    return found[0] if len(found) == 1 else None


def objects_of(directory):
    """The objects of a kustomization: rendered by kubectl, else its plain files."""
    if kustomize_tree.kubectl():
        return kustomize_tree.render(directory)
    return [doc for f in kustomize_tree.plain_files(directory) for doc in manifest_checks.load_documents(f)]


def network_problems(networks):
    problems = []
    for nad in networks:
        problems += manifest_checks.check_cni_config(nad["spec"]["config"], "NetworkAttachmentDefinition/%s"
                                                     % nad["metadata"]["name"], spec_message_for)
    return problems


class ManifestFilesTest(unittest.TestCase):
    def test_every_manifest_is_valid(self):
        patches = {os.path.normpath(p) for d in KUSTOMIZATIONS for p in kustomize_tree.patch_files(d)}
        files = sorted(f for f in glob.glob(os.path.join(KUBERNETES, "**", "*.yaml"), recursive=True)
                       if os.path.basename(f) != "kustomization.yaml")
        self.assertGreaterEqual(len(files), 12)
        kinds = set()
        for f in files:
            docs = manifest_checks.load_documents(f)
            self.assertTrue(docs, f + ": no object")
            partial = os.path.normpath(f) in patches
            self.assertEqual(manifest_checks.check_documents(docs, os.path.relpath(f, KUBERNETES), partial), [])
            kinds |= {d["kind"] for d in docs}
            say("%s: %s valid%s" % (os.path.relpath(f, KUBERNETES), ", ".join(d["kind"] for d in docs),
                                    " (as a patch)" if partial else ""))
        self.assertLessEqual({"Namespace", "ServiceAccount", "ConfigMap", "DaemonSet", "Service", "ServiceMonitor",
                              "NetworkAttachmentDefinition", "Pod", "VirtualMachineInstance"}, kinds)

    def test_network_configs_are_what_vhostd_cni_accepts(self):
        networks = objects_of(NETWORKS)
        types = {json.loads(n["spec"]["config"])["portType"] for n in networks}
        self.assertEqual(types, {"vhost-user", "vhost-kernel", "vdpa"}, "one network per port type")
        self.assertEqual(network_problems(networks), [])
        self.assertEqual(deployment_checks.check_networks(networks, deployment_checks.daemonset(objects_of(BASE))), [])
        say("networks: %s: configs valid, reaching the DaemonSet's socket and socket directory"
            % ", ".join(n["metadata"]["name"] for n in networks))

    def test_examples_use_the_networks(self):
        examples = objects_of(EXAMPLES)
        self.assertEqual(deployment_checks.check_examples(examples, objects_of(NETWORKS)), [])
        self.assertEqual(deployment_checks.check_guaranteed_cpus(deployment_checks.find(examples, "Pod")), [])
        self.assertEqual(deployment_checks.check_references(examples), [])


class KustomizationsTest(unittest.TestCase):
    def test_resource_lists(self):
        for directory in KUSTOMIZATIONS:
            self.assertEqual(kustomize_tree.check_kustomization(directory), [])
        say("kustomizations: every resource and patch exists, no file left out: %s"
            % ", ".join(os.path.relpath(d, KUBERNETES) for d in KUSTOMIZATIONS))

    def test_base_and_overlays_render_into_valid_deployments(self):
        if not kustomize_tree.kubectl():
            say("SKIP rendering: no kubectl on PATH (Debian 12's kubernetes-client clashes with the "
                "kubectl package); checking the base's plain files instead, overlays unrendered")
        for directory in [BASE] + (OVERLAYS if kustomize_tree.kubectl() else []):
            objects = objects_of(directory)
            name = os.path.relpath(directory, KUBERNETES)
            self.assertEqual(manifest_checks.check_documents(objects, name), [])
            self.assertEqual(deployment_checks.check_deployment(objects), [])
            say("%s: %d objects, valid and consistent" % (name, len(objects)))

    def test_base_renders_to_its_plain_files(self):
        if not kustomize_tree.kubectl():
            self.skipTest("no kubectl on PATH to render with")
        plain = [doc for f in kustomize_tree.plain_files(BASE) for doc in manifest_checks.load_documents(f)]
        key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
        self.assertEqual(sorted(kustomize_tree.render(BASE), key=key), sorted(plain, key=key),
                         "kubectl apply -f of the base's files and -k of the base must create the same objects")

    def test_overlays_change_what_they_say(self):
        if not kustomize_tree.kubectl():
            self.skipTest("no kubectl on PATH to render with")
        base = deployment_checks.vhostd_container(deployment_checks.daemonset(objects_of(BASE)))
        self.assertIn("--no-huge", deployment_checks.flag_value(base, "--eal-args"))
        self.assertNotIn("hugepages-2Mi", base["resources"]["limits"])
        huge = deployment_checks.vhostd_container(deployment_checks.daemonset(
            objects_of(os.path.join(KUBERNETES, "overlays", "hugepages"))))
        self.assertNotIn("--no-huge", deployment_checks.flag_value(huge, "--eal-args"))
        self.assertEqual(huge["resources"]["limits"]["hugepages-2Mi"], huge["resources"]["requests"]["hugepages-2Mi"])
        self.assertIn("/dev/hugepages", [m["mountPath"] for m in huge["volumeMounts"]])
        devices = deployment_checks.vhostd_container(deployment_checks.daemonset(
            objects_of(os.path.join(KUBERNETES, "overlays", "host-devices"))))
        self.assertTrue(devices["securityContext"]["privileged"])
        self.assertFalse(base["securityContext"]["privileged"])
        monitor = objects_of(os.path.join(KUBERNETES, "overlays", "prometheus-operator"))
        self.assertEqual(len(deployment_checks.find(monitor, "ServiceMonitor")), 1)


class ChecksCatchMistakesTest(unittest.TestCase):
    """Each check fails on the mistake it is for (so a green run means something)."""

    def setUp(self):
        self.base = [doc for f in kustomize_tree.plain_files(BASE) for doc in manifest_checks.load_documents(f)]
        self.ds = deployment_checks.daemonset(self.base)
        self.vhost_user = deployment_checks.find(objects_of(NETWORKS), "NetworkAttachmentDefinition", "vhost-user")[0]

    def problems(self, doc):
        return "\n".join(manifest_checks.check_document(doc, "mutated"))

    def assertCaught(self, problems, *fragments):
        text = "\n".join(problems) if isinstance(problems, list) else problems
        for fragment in fragments:
            self.assertIn(fragment, text)

    def test_unknown_field(self):
        ds = copy.deepcopy(self.ds)
        ds["spec"]["template"]["spec"]["hostNetwrok"] = True
        self.assertCaught(self.problems(ds), "DaemonSet.spec.template.spec.hostNetwrok: unknown field of V1PodSpec")

    def test_missing_required_field(self):
        ds = copy.deepcopy(self.ds)
        del ds["spec"]["template"]["spec"]["containers"][0]["name"]
        self.assertCaught(self.problems(ds), "containers[0]: Invalid value for `name`, must not be `None`")

    def test_wrong_type(self):
        ds = copy.deepcopy(self.ds)
        ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "9477"
        self.assertCaught(self.problems(ds), "containerPort: must be int, not str '9477'")

    def test_unknown_kind_and_missing_namespace(self):
        self.assertCaught(self.problems({"apiVersion": "apps/v1", "kind": "DaemonSett", "metadata": {"name": "x"}}),
                          "unknown kind apps/v1 DaemonSett")
        sa = copy.deepcopy(deployment_checks.find(self.base, "ServiceAccount")[0])
        del sa["metadata"]["namespace"]
        self.assertCaught(self.problems(sa), "metadata.namespace: missing")

    def test_custom_resource_schema(self):
        nad = copy.deepcopy(self.vhost_user)
        nad["spec"]["configuration"] = nad["spec"].pop("config")
        self.assertCaught(self.problems(nad), "'config' is a required property",
                          "Additional properties are not allowed ('configuration' was unexpected)")

    def test_duplicate_yaml_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nkind: Secret\n")
            f.flush()
            with self.assertRaisesRegex(yaml.YAMLError, "duplicate key 'kind'"):
                manifest_checks.load_documents(f.name)

    def cni_problems(self, edit):
        conf = json.loads(self.vhost_user["spec"]["config"])
        edit(conf)
        return manifest_checks.check_cni_config(json.dumps(conf), "nad", spec_message_for)

    def test_cni_config_mistakes(self):
        self.assertCaught(self.cni_problems(lambda c: c["vhostUser"].update(sockDir="/x")),
                          "vhostUser: Additional properties are not allowed ('sockDir' was unexpected)")
        self.assertCaught(self.cni_problems(lambda c: c.pop("vhostUser")), "'vhostUser' is a required property")
        self.assertCaught(self.cni_problems(lambda c: c["spec"].update(socketPath="a.sock")),
                          "spec.socketPath: set by vhostd-cni")
        self.assertCaught(self.cni_problems(lambda c: c["spec"].update(queuez=2)),
                          'VhostUserSpec" has no field named "queuez"')
        self.assertCaught(self.cni_problems(lambda c: c.update(portType="vhost-usr")),
                          "no shipped plugin serves 'vhost-usr'")

    def test_network_outside_the_socket_dir(self):
        nad = copy.deepcopy(self.vhost_user)
        conf = json.loads(nad["spec"]["config"])
        conf["vhostUser"]["socketDir"] = "/var/run/elsewhere"
        conf["server"] = "unix:/tmp/other.sock"
        nad["spec"]["config"] = json.dumps(conf)
        self.assertCaught(deployment_checks.check_networks([nad], self.ds),
                          "outside the DaemonSet's --socket-dir /run/vhostd/sockets",
                          "is not the DaemonSet's --grpc-socket")

    def test_cpu_request_must_reserve_the_polling_cores(self):
        objects = copy.deepcopy(self.base)
        deployment_checks.config_map_data(objects, "vhostd-config", "vhostd")["VHOSTD_POLLING_CORES"] = "2"
        self.assertCaught(deployment_checks.check_deployment(objects),
                          "resources.requests.cpu 2 must be VHOSTD_POLLING_CORES (2) + 1")
        objects = copy.deepcopy(self.base)
        container = deployment_checks.vhostd_container(deployment_checks.daemonset(objects))
        container["resources"]["requests"]["cpu"] = "1500m"
        self.assertCaught(deployment_checks.check_deployment(objects), "cpu requests and limits must be set and equal",
                          "'1500m': must be a whole number of CPUs")

    def test_dangling_references(self):
        objects = copy.deepcopy(self.base)
        container = deployment_checks.vhostd_container(deployment_checks.daemonset(objects))
        container["args"].append("--cores=$(VHOSTD_CORES)")
        container["volumeMounts"].append({"name": "nowhere", "mountPath": "/x"})
        deployment_checks.daemonset(objects)["spec"]["template"]["spec"]["serviceAccountName"] = "nobody"
        self.assertCaught(deployment_checks.check_deployment(objects), "refers to $(VHOSTD_CORES)",
                          "volumeMounts nowhere: no such volume", "serviceAccountName nobody")

    def test_paths_must_be_the_nodes(self):
        objects = copy.deepcopy(self.base)
        volumes = deployment_checks.daemonset(objects)["spec"]["template"]["spec"]["volumes"]
        next(v for v in volumes if v["name"] == "run-vhostd")["hostPath"]["path"] = "/var/run/other"
        self.assertCaught(deployment_checks.check_host_paths(objects),
                          "--socket-dir: volume run-vhostd mounts the node's /var/run/other at /run/vhostd")

    def test_metrics_port_and_privilege_mistakes(self):
        objects = copy.deepcopy(self.base)
        deployment_checks.config_map_data(objects, "vhostd-config", "vhostd")["VHOSTD_METRICS_PORT"] = "9500"
        container = deployment_checks.vhostd_container(deployment_checks.daemonset(objects))
        container["securityContext"]["privileged"] = True
        problems = deployment_checks.check_deployment(objects)
        self.assertCaught(problems, "the metrics port differs", "privileged with allowPrivilegeEscalation false")

    def test_kustomization_mistakes(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "kustomization.yaml"), "w") as f:
                f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                        "resources: [missing.yaml]\nresorces: []\n")
            open(os.path.join(d, "forgotten.yaml"), "w").close()
            self.assertCaught(kustomize_tree.check_kustomization(d), "resorces: unknown field",
                              "resources[0] missing.yaml: no such file", "forgotten.yaml is neither a resource")


if __name__ == "__main__":
    unittest.main(verbosity=2)
