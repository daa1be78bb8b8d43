"""A fuzz target: `name` links libFuzzer under --config=fuzz (tests/fuzz/run.sh), and
`name`_regression replays its checked-in corpus in every normal build (bazel test //...)."""

def vhostd_fuzzer(name, srcs, deps, corpus):
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        deps = deps + select({
            "//tests/fuzz:libfuzzer": [],
            "//conditions:default": ["//tests/fuzz:fuzz_main"],
        }),
        linkopts = select({
            "//tests/fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        linkstatic = True,
    )
    native.sh_test(
        name = name + "_regression",
        size = "small",
        srcs = ["//tests/fuzz:replay.sh"],
        args = ["$(location :%s)" % name, "tests/fuzz/" + corpus],
        data = [":" + name] + native.glob([corpus + "/**"]),
    )
