# labels: fuzz
"""Corrupt results files (reproducers the fuzzer found, rebuilt here with h5py
from a fresh `prmeval eval --out`): `prmeval rescore` and `prmeval report`
must exit 3 (malformed input) with a message naming the file and the object
at fault, and no sanitizer report and nothing libhdf5 prints on its own. Also
byte-level corruption (a flipped byte in an object header, in a data chunk, in
the superblock; a truncated file), which schema 2's checksums turn into HDF5
errors. Runs in the sanitizer build too."""
import os
import re
import subprocess
import sys

import h5py
import numpy as np

SRC = os.environ["PRMEVAL_SRC"]
PRMEVAL = os.environ["PRMEVAL"]
TMP = os.environ.get("PRMEVAL_TMP", "/tmp/test_bad_results")
os.makedirs(TMP, exist_ok=True)
DATA = os.path.join(SRC, "data", "subset400.jsonl")
PREDS = os.path.join(SRC, "data", "baselines", "all_valid.jsonl")


def seed_file():
    p = os.path.join(TMP, "good.h5")
    r = subprocess.run([PRMEVAL, "eval", "--data", DATA, "--predictions", PREDS, "--out", p, "--quiet"],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit("eval --out failed: " + r.stderr)
    return p


def set_value(name, index, value):
    def edit(f):
        a = f[name][...]
        a[index] = value
        f[name][...] = a
    return edit


def set_enum_raw(name, index, value):
    """An enum value that no name of the reader's enum maps (HDF5 refuses the
    conversion, as the enum's names differ)."""
    def edit(f):
        dt = f[name].dtype
        raw = f[name][...].astype(np.int8)
        raw[index] = value
        mapping = dict(h5py.check_enum_dtype(dt))
        mapping["bogus"] = value
        del f[name]
        f.create_dataset(name, data=raw, dtype=h5py.enum_dtype(mapping, basetype="i1"))
    return edit


def set_attr(name, value, dtype=None):
    def edit(f):
        del f.attrs[name]
        f.attrs.create(name, value, dtype=dtype)
    return edit


def replace_dset(name, data=None, **kw):
    """The dataset made again by h5py with other properties (same length);
    data(n) gives its values, None leaves the fill value."""
    def edit(f):
        n = f[name].shape[0]
        del f[name]
        f.create_dataset(name, shape=(n,), data=None if data is None else data(n), **kw)
    return edit


# name, edit, pattern the message must match (after the file name)
CASES = [
    ("err_step_int_max", set_value("/samples/err_steps", 0, 2**31 - 1),
     r"/samples/err_steps: sample \d+ .*error step out of range \(2147483647\)"),
    ("err_step_negative", set_value("/samples/err_steps", 3, -5),
     r"/samples/err_steps: sample \d+ .*error step out of range \(-5\)"),
    ("src_file_out_of_range", set_value("/samples/src_file", 7, 3),
     r"/samples/src_file: sample 7 .*not an index into the root attribute data_files \(3\)"),
    ("nsteps_negative", set_value("/samples/nsteps", 2, -1), r"/samples/nsteps: sample 2 .*out of range \(-1\)"),
    ("problem_out_of_range", set_value("/samples/problem", 5, 10**6), r"/samples/problem: sample 5 .*out of range"),
    ("class_out_of_range", set_enum_raw("/samples/class", 4, 100), r"/samples/class: cannot read"),
    ("status_out_of_range", set_enum_raw("/samples/status", 1, 7), r"/samples/status: cannot read"),
    ("step_offset_decreasing", set_value("/samples/step_offset", 3, 10**9), r"/samples/step_offset: decreases"),
    ("err_offset_not_zero", set_value("/samples/err_offset", 0, 1), r"/samples/err_offset: expected element 0"),
    # schema 2 (docs/hdf5-schema.md): one version only, fixed-length strings only, bounded sizes
    ("schema_older", set_attr("schema_version", np.int64(1)),
     r"results schema version 1, this prmeval reads version 2 only \(an older prmeval wrote it: run eval or run again"),
    ("schema_newer", set_attr("schema_version", np.int64(3)),
     r"results schema version 3, this prmeval reads version 2 only \(a newer prmeval wrote it\)"),
    ("schema_version_missing", lambda f: f.attrs.__delitem__("schema_version"),
     r"attribute schema_version of /: missing"),
    ("schema_other", set_attr("schema", np.bytes_(b"other"), h5py.string_dtype("utf-8", 6)),
     r"not a prmeval results file \(attribute schema is \"other\", expected \"prmeval-results\"\)"),
    ("attr_variable_length", set_attr("hosts", "node-a", h5py.string_dtype("utf-8")),
     r"attribute hosts of /: expected fixed-length strings, found variable-length strings"),
    ("attr_array_variable_length", set_attr("data_files", ["a.jsonl"], h5py.string_dtype("utf-8")),
     r"attribute data_files of /: expected fixed-length strings, found variable-length strings"),
    ("key_variable_length", replace_dset("/samples/key", dtype=h5py.string_dtype("utf-8"),
                                         data=lambda n: ["k%d" % i for i in range(n)]),
     r"/samples/key: expected fixed-length strings, found variable-length strings"),
    # 2 MiB a key: refused from the type alone (nothing written: the chunks are the fill value)
    ("key_too_wide", replace_dset("/samples/idx", dtype=h5py.string_dtype("utf-8", 2 << 20), chunks=(1,),
                                  compression="gzip"),
     r"/samples/idx: strings of 2097152 bytes, expected 1 to 1048577"),
]


def flip(where):
    """A byte-level corruption (what a disk or a copy does): one byte of the
    file flipped at where(f), an offset found with h5py in the good file.
    Schema 2 checksums every structure the reader touches (docs/hdf5-schema.md)."""
    def edit(image, f):
        at = where(f)
        out = bytearray(image)
        out[at] ^= 0x5A
        return bytes(out)
    return edit


def header_of(name):
    return lambda f: h5py.h5o.get_info(f[name].id).addr + 16  # inside the object header, past its signature


def first_chunk_of(name):
    return lambda f: f[name].id.get_chunk_info(0).byte_offset + 3


def truncate(image, f):
    return image[:len(image) // 3]


# name, edit(image, opened good file) -> corrupt image, pattern
BYTE_CASES = [
    ("header_step_offset", flip(header_of("/samples/step_offset")),
     r"/samples/step_offset: cannot open \(HDF5: incorrect metadata checksum"),
    ("header_samples_group", flip(header_of("/samples")),
     r"/samples/\w+: cannot open \(HDF5: incorrect metadata checksum"),
    ("chunk_key", flip(first_chunk_of("/samples/key")),
     r"/samples/key: cannot read \(HDF5: data error detected by Fletcher32 checksum"),
    ("chunk_score", flip(first_chunk_of("/steps/score")),
     r"/steps/score: cannot read \(HDF5: data error detected by Fletcher32 checksum"),
    ("header_root", flip(lambda f: h5py.h5o.get_info(f.id).addr + 16),
     r"(attribute schema_version of /: cannot read|/: cannot open) \(HDF5: incorrect metadata checksum"),
    ("superblock", flip(lambda f: 20), r"/: cannot open \(HDF5: incorrect metadata checksum"),
    ("truncated", truncate, r"/: cannot open \(HDF5: truncated file"),
]


def main():
    good = seed_file()
    with open(good, "rb") as fh:
        image = fh.read()
    with h5py.File(good, "r") as f:
        images = {name: edit(image, f) for name, edit, _ in BYTE_CASES}
    fails = 0
    n = 0
    for name, edit, pattern in CASES + BYTE_CASES:
        p = os.path.join(TMP, name + ".h5")
        with open(p, "wb") as fh:
            fh.write(images.get(name, image))
        if name not in images:
            with h5py.File(p, "r+") as f:
                edit(f)
        for cmd in (["rescore", p, "--quiet"], ["rescore", p, "--quiet", "--label-rule", "skywork-current"],
                    ["report", p, "--quiet"]):
            n += 1
            r = subprocess.run([PRMEVAL] + cmd, capture_output=True, text=True)
            what = "%s (%s)" % (name, cmd[0] + (" skywork-current" if "--label-rule" in cmd else ""))
            if r.returncode != 3:
                print("FAIL %s: exit %d (want 3, malformed input)\n%s" % (what, r.returncode, r.stderr))
                fails += 1
            elif re.search(r"AddressSanitizer|UndefinedBehaviorSanitizer|runtime error|HDF5-DIAG|closing library",
                           r.stderr):
                print("FAIL %s: sanitizer report\n%s" % (what, r.stderr))
                fails += 1
            elif not re.search(re.escape(name + ".h5") + ": " + pattern, r.stderr):
                print("FAIL %s: message does not match %r:\n%s" % (what, pattern, r.stderr))
                fails += 1
            else:
                print("ok   %s (exit %d): %s" % (what, r.returncode, r.stderr.strip().splitlines()[-1][:200]))
    print("%d passed, %d failed" % (n - fails, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
