"""Protobuf/gRPC code generation with Debian's protoc and gRPC plugins (no rules_proto)."""

def cc_grpc_library(name, srcs, grpc_srcs, deps = [], proto_deps = [], import_dirs = [], visibility = None):
    """Generates C++ message code for `srcs` and gRPC stubs for `grpc_srcs`.

    Sources are paths inside this package; the import root is the package itself, so
    a file at vhostd/v1/port.proto is imported as "vhostd/v1/port.proto". `proto_deps`
    are imported .proto files from `import_dirs` (workspace-relative import roots).
    """
    pkg = native.package_name()
    msg_outs = [s[:-len(".proto")] + ext for s in srcs for ext in [".pb.h", ".pb.cc"]]
    grpc_outs = [s[:-len(".proto")] + ext for s in grpc_srcs for ext in [".grpc.pb.h", ".grpc.pb.cc"]]
    includes = "-I%s %s -I/usr/include" % (pkg, " ".join(["-I" + d for d in import_dirs]))
    cmd = "/usr/bin/protoc {inc} --cpp_out=$(RULEDIR) {srcs}".format(
        inc = includes,
        srcs = " ".join(["%s/%s" % (pkg, s) for s in srcs]),
    )
    if grpc_srcs:
        cmd += " && /usr/bin/protoc {inc} --grpc_out=$(RULEDIR) --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin {grpc}".format(
            inc = includes,
            grpc = " ".join(["%s/%s" % (pkg, s) for s in grpc_srcs]),
        )
    native.genrule(
        name = name + "_gen",
        srcs = srcs + proto_deps,
        outs = msg_outs + grpc_outs,
        cmd = cmd,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in msg_outs + grpc_outs if o.endswith(".cc")],
        hdrs = [o for o in msg_outs + grpc_outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + ["@grpc"],
        # Every message is linked, used here or not: port-type plugins (shared objects)
        # take the message code from the daemon, and protobuf allows one copy per process.
        alwayslink = True,
        visibility = visibility,
    )

    # The headers alone, for plugins: the code is the daemon's (see above).
    native.cc_library(
        name = name + "_headers",
        hdrs = [o for o in msg_outs + grpc_outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + ["@grpc"],
        visibility = visibility,
    )

def py_grpc_sources(name, srcs, grpc_srcs, visibility = None):
    """Generates Python modules (_pb2, _pb2_grpc) and a descriptor set for tests and tools."""
    pkg = native.package_name()
    outs = [s[:-len(".proto")] + "_pb2.py" for s in srcs]
    outs += [s[:-len(".proto")] + "_pb2_grpc.py" for s in grpc_srcs]
    native.genrule(
        name = name,
        srcs = srcs,
        outs = outs + [name + ".desc"],
        cmd = ("/usr/bin/protoc -I{pkg} -I/usr/include --python_out=$(RULEDIR) " +
               "--grpc_python_out=$(RULEDIR) --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin $(SRCS) && " +
               "/usr/bin/protoc -I{pkg} -I/usr/include --include_imports " +
               "--descriptor_set_out=$(RULEDIR)/{name}.desc $(SRCS)").format(pkg = pkg, name = name),
        visibility = visibility,
    )

def plugin_proto_library(name, srcs, visibility = None):
    """C++ and Python code for a port-type plugin's own messages (no gRPC).

    The import root is the workspace: plugins/vdpa/vdpa.proto is imported and included
    as "plugins/vdpa/vdpa.proto" / "plugins/vdpa/vdpa.pb.h". The C++ library is linked
    into the plugin's shared object, whose loading registers the messages in the
    process's generated pool (so the daemon can make, parse and print them). `name`.desc
    is a descriptor set with everything imported, for tools and tests.
    """
    pkg = native.package_name()
    paths = ["%s/%s" % (pkg, s) for s in srcs]
    cc_outs = [s[:-len(".proto")] + ext for s in srcs for ext in [".pb.h", ".pb.cc"]]
    py_outs = [s[:-len(".proto")] + "_pb2.py" for s in srcs]
    native.genrule(
        name = name + "_gen",
        srcs = srcs,
        outs = cc_outs + py_outs + [name + ".desc"],
        cmd = ("/usr/bin/protoc -I. -I/usr/include --cpp_out=$(GENDIR) --python_out=$(GENDIR) {p} && " +
               "/usr/bin/protoc -I. -I/usr/include --include_imports --descriptor_set_out=$(RULEDIR)/{name}.desc {p}").format(
            p = " ".join(paths),
            name = name,
        ),
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in cc_outs if o.endswith(".cc")],
        hdrs = [o for o in cc_outs if o.endswith(".h")],
        deps = ["@protobuf"],
        visibility = visibility,
    )
    native.filegroup(name = name + "_py", srcs = py_outs, visibility = visibility)
