"""Writes the binary seed corpora of the fuzz targets (api, state_loader, mem_table)
from readable sources, so they can be regenerated after a format change:

    bazel build //proto:vhostd_py //plugins:all_py
    /usr/bin/python3 tests/fuzz/make_seeds.py

Seeds are what a real client, daemon or frontend sends; the fuzzer mutates from there.
The cni_config seeds are plain JSON files, kept by hand.
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
from vhostd_proc import import_api, vhost_user_port  # noqa: E402

api = import_api()
METHODS = [m.name for m in api.DESCRIPTOR.services_by_name["Vhostd"].methods]


def call(method, request):
    body = request.SerializeToString()
    return struct.pack("<BH", METHODS.index(method), len(body)) + body


def write(corpus, name, data):
    path = os.path.join(HERE, "corpus", corpus, name)
    with open(path, "wb") as f:
        f.write(data)


def port(name, **fields):
    return call("CreatePort", api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock", **fields)))


def api_seeds():
    pair = port("a", queues=2) + port("b") + call("CreateCrossConnect", api.CreateCrossConnectRequest(
        cross_connect=api.CrossConnect(name="x", port_a="a", port_b="b")))
    write("api", "xconnect", pair + call("ListCrossConnects", api.ListCrossConnectsRequest())
          + call("DeletePort", api.DeletePortRequest(name="a")))
    write("api", "bridge", port("c") + port("d") + call("CreateBridge", api.CreateBridgeRequest(
        bridge=api.Bridge(name="br0", mac_table_size=16, mac_aging_seconds=30)))
        + call("AddBridgePort", api.AddBridgePortRequest(bridge="br0", port=api.BridgePort(port="c", access_vlan=10)))
        + call("AddBridgePort", api.AddBridgePortRequest(bridge="br0", port=api.BridgePort(
            port="d", trunk=api.VlanTrunk(vlans=[10, 20]))))
        + call("GetBridge", api.GetBridgeRequest(name="br0"))
        + call("DeleteBridgePort", api.DeleteBridgePortRequest(bridge="br0", port="c"))
        + call("DeleteBridge", api.DeleteBridgeRequest(name="br0")))
    labelled = vhost_user_port("e", socket_path="e.sock")
    labelled.labels["k8s.pod.name"] = "web-0"
    write("api", "labels", call("CreatePort", api.CreatePortRequest(port=labelled))
          + call("ListPorts", api.ListPortsRequest(label_selector="k8s.pod.name=web-0,!other", page_size=1))
          + call("ListPorts", api.ListPortsRequest(page_token="bm90LWEtdG9rZW4")))
    write("api", "cores", pair + call("PinQueue", api.PinQueueRequest(pin=api.QueuePin(port="a", queue=1, lcore=1)))
          + call("RebalanceCores", api.RebalanceCoresRequest(dry_run=True)) + call("ListCores", api.ListCoresRequest())
          + call("UpdateCoreSettings", api.UpdateCoreSettingsRequest(sleep_max_us=100))
          + call("UnpinQueue", api.UnpinQueueRequest(port="a", queue=1)) + call("GetCoreSettings",
                                                                                api.GetCoreSettingsRequest()))
    write("api", "reads", call("ListPlugins", api.ListPluginsRequest()) + call("GetPort", api.GetPortRequest(name="zz"))
          + call("GetPortStats", api.GetPortStatsRequest(name="zz"))
          + call("WatchEvents", api.WatchEventsRequest(after_sequence=3, port="a"))
          + call("ListBridges", api.ListBridgesRequest()))
    write("api", "retry-and-conflict", port("f") + port("f") + port("f", queues=4)
          + call("DeleteCrossConnect", api.DeleteCrossConnectRequest(name="none", allow_missing=True)))


def state_seeds():
    snapshot = open(os.path.join(HERE, "seeds", "state.json"), "rb").read()
    journal = open(os.path.join(HERE, "seeds", "state.json.journal"), "rb").read()

    def seed(s, j):
        return struct.pack("<H", len(s)) + s + j
    write("state_loader", "snapshot", seed(snapshot, b""))
    write("state_loader", "journal", seed(b"", journal))
    write("state_loader", "snapshot-and-journal", seed(snapshot, journal))
    write("state_loader", "torn-journal", seed(snapshot, journal[:-20]))


def mem_table_seeds():
    def seed(pages, fd_num, regions, nregions=None, size=None):
        payload = struct.pack("<II", len(regions) if nregions is None else nregions, 0)
        payload += b"".join(struct.pack("<QQQQ", *r) for r in regions)
        head = b"".join(struct.pack("<H", p) for p in (pages + [0] * 8)[:8]) + struct.pack("<B", fd_num)
        return head + struct.pack("<I", len(payload) if size is None else size) + payload
    two_mib = 2 << 20
    write("mem_table", "one-region", seed([512], 1, [(0, two_mib, 0x7F0000000000, 0)]))
    write("mem_table", "two-regions", seed([256, 256], 2, [(0, 1 << 20, 0x7F0000000000, 0),
                                                          (1 << 20, 1 << 20, 0x7F0000100000, 0)]))
    write("mem_table", "larger-than-file", seed([1], 1, [(0, two_mib, 0x7F0000000000, 0)]))
    write("mem_table", "offset-overflow", seed([256], 1, [(0, 4096, 0x7F0000000000, (1 << 64) - 4096)]))
    write("mem_table", "count-lies", seed([256] * 3, 3, [(0, 4096, 0x7F0000000000, 0)], nregions=3))


if __name__ == "__main__":
    api_seeds()
    state_seeds()
    mem_table_seeds()
