"""Code size and worst-case stack of the portable kernel on microcontroller targets.

    python3 csrc/tests/size_report.py OUTDIR trinary.c curl.c ...     (run from csrc/; make -C csrc size)

Each source is compiled freestanding at -Os with -fstack-usage -fcallgraph-info=su for cortex-m0plus (RP2040),
cortex-m4 (nRF52/STM32F4) and rv32imc (ESP32-C3). Worst-case stack of a public function = its frame plus the
deepest chain of kernel callees (the kernel has no recursion and no function pointers on these targets except the
SIMD kernel table, whose only entry there is the portable kernel, added by hand below). Library calls (memcpy,
memset, compiler helpers such as __aeabi_uldivmod) are listed but not counted: they use a few dozen bytes.
The sources see tests/freestanding/string.h (four prototypes) instead of a C library.
"""
import os
import re
import subprocess
import sys

TARGETS = [
    ("cortex-m0plus", "arm-none-eabi-", ["-mcpu=cortex-m0plus", "-mthumb"]),
    ("cortex-m4", "arm-none-eabi-", ["-mcpu=cortex-m4", "-mthumb"]),
    ("rv32imc", "riscv64-unknown-elf-", ["-march=rv32imc", "-mabi=ilp32"]),
]
PUBLIC = ["ik_curl_hash_trytes", "ik_kerl_hash_trytes", "ik_address", "ik_sign", "ik_verify", "ik_key",
          "ik_digests", "ik_bundle_finalize", "ik_mam_unmask", "ik_mam_leaf", "ik_mam_parse", "ik_curl_chains_many", "ik_mam_parse_many", "ik_pow_search", "ik_pow_search_threads"]
# Indirect calls: kernel_for() returns ikp_search_portable on these targets, and lanes.c's units call the portable
# byte-sliced functions.
INDIRECT = {"ikp_run": ["ikp_search_portable"],
            "ikl_step": ["ikp_sliced_rounds_portable", "ikp_sliced_in_portable", "ikp_sliced_out_portable"],
            "ikl_rate": ["ikp_sliced_out_portable"]}

NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]+)"')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def short(title):
    return title.split(":")[-1]


def parse(ci_files):
    frames, calls = {}, {}
    for path in ci_files:
        with open(path) as f:
            text = f.read()
        for title, label in NODE.findall(text):
            m = re.search(r"(\d+) bytes \((static|dynamic[^)]*)\)", label)
            if m:
                frames[short(title)] = int(m.group(1))
        for src, dst in EDGE.findall(text):
            calls.setdefault(short(src), set()).add(short(dst))
    for src, dsts in INDIRECT.items():
        calls.setdefault(src, set()).update(dsts)
    return frames, calls


def worst(fn, frames, calls, seen=()):
    if fn in seen:
        raise ValueError("recursion through " + fn)
    below = [worst(c, frames, calls, seen + (fn,)) for c in calls.get(fn, ()) if c in frames]
    return frames.get(fn, 0) + max([0] + below)


def main(argv):
    out, sources = argv[0], argv[1:]
    report = []
    for name, prefix, flags in TARGETS:
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        objs = []
        for src in sources:
            obj = os.path.join(d, os.path.basename(src)[:-2] + ".o")
            cmd = [prefix + "gcc"] + flags + ["-std=gnu99", "-Os", "-ffreestanding", "-DIK_NO_THREADS",
                                              "-ffunction-sections", "-fstack-usage", "-fcallgraph-info=su",
                                              "-Wall", "-Wextra", "-Werror", "-I.", "-Itests/freestanding", "-c", src, "-o", obj]
            subprocess.run(cmd, check=True)
            objs.append(obj)
        sizes = subprocess.run([prefix + "size", "-t"] + objs, check=True, capture_output=True, text=True).stdout
        text, data, bss = [int(x) for x in sizes.strip().splitlines()[-1].split()[:3]]
        frames, calls = parse([o[:-2] + ".ci" for o in objs])
        lib = sorted({c for cs in calls.values() for c in cs if c not in frames})
        report.append("%s: text %d, data %d, bss %d bytes (all of %s)" % (name, text, data, bss, " ".join(sources)))
        for fn in PUBLIC:
            if fn in frames:
                report.append("  worst-case stack %-24s %6d bytes" % (fn, worst(fn, frames, calls)))
        report.append("  library calls not counted: " + ", ".join(lib))
    text = "\n".join(report)
    print(text)
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
