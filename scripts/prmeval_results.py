"""Reading prmeval's HDF5 results files (docs/hdf5-schema.md) and rescore's
threshold-sweep CSV for scripts/plot.py: every value a figure draws comes
from here, checked for shape and type first, so a corrupt or foreign file is
an error naming the file and the object, never a wrong figure.

Also the comparability rule of `prmeval report` (src/cli/cmd_report.c,
docs/cli-rescore-report.md): runs are compared only when their metric
definition and the SHA-256 of every data file agree."""
import csv
import json
import math
import os

import numpy as np

# prmeval's exit codes (README)
EXIT_USAGE, EXIT_INPUT, EXIT_FS = 2, 3, 4

SCHEMA, SCHEMA_VERSION = "prmeval-results", 2
# The paper's table order (src/core/table.c): class name, abbreviation.
CLASSES = [("redundency", "NR"), ("circular", "NCL"), ("counterfactual", "ES"), ("step_contradiction", "SC"),
           ("domain_inconsistency", "DC"), ("confidence", "CI"), ("missing_condition", "PS"), ("deception", "DR"),
           ("multi_solutions", "MS")]
CATEGORIES = [("Simplicity", "Simp."), ("Soundness", "Sound."), ("Sensitivity", "Sens.")]
SWEEP_HEADER = ["threshold", "label_rule", "Overall", "NR", "NCL", "Simp.", "ES", "SC", "DC", "CI", "Sound.", "PS",
                "DR", "MS", "Sens."]
POOLED_ROW = 10          # /analysis/error_position rows: 10 classes, then pooled
NPOS = 32                # columns: 1-based positions 1..32 (32 also holds later ones)
MAX_ELEMENTS = 1 << 28   # per dataset: PRMBench has ~7,000 samples and ~60,000 steps
STATUS_OK = 0            # /samples/status
CLASS_CORRECT = 0        # /samples/class: the synthetic correct twins, never pooled
LABELS_FROM_SCORES = 0   # /samples/label_source


class ResultsError(Exception):
    """A message naming the file (and object) at fault, and the exit code."""
    def __init__(self, msg, code=EXIT_INPUT):
        super().__init__(msg)
        self.code = code


class Run:
    """One results file: what the figures draw, and where it came from."""
    path = stem = name = label = command = label_rule = ""
    threshold = 0.0
    metric_definition = ""
    data_sha256 = ()
    data_files = ()
    predictions_sha256 = ""
    prmscore = None        # abbrev ("Overall", "NR", ..., "Sens.") -> fraction
    pooled = None          # /metrics/pooled attributes used by the figures
    errpos_wrong = None    # (32,) pooled wrong_acc per 1-based position (-1 where n = 0)
    errpos_n = None        # (32,) its denominators
    scores = None          # raw step scores of evaluated error-class samples (NaN: labels only)
    is_error = None        # the same steps: 1 = an error step
    thresholded = True     # some evaluated sample's labels came from score > threshold
    colour = None

    @property
    def group(self):
        """Rescored files and their source share a group: the threshold figure's curve."""
        return (self.name, self.label_rule, self.predictions_sha256)


def _text(v, where):
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v[()]
    if isinstance(v, (bytes, np.bytes_)):
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            raise ResultsError("%s: not UTF-8 text" % where)
    if isinstance(v, str):
        return v
    raise ResultsError("%s: expected a string, found %s" % (where, type(v).__name__))


def _number(v, where, integer=False):
    if isinstance(v, np.ndarray) and v.shape in ((), (1,)):
        v = v.reshape(())[()]
    ok = isinstance(v, (np.integer, int)) if integer else isinstance(v, (np.floating, np.integer, float, int))
    if not ok or isinstance(v, bool):
        raise ResultsError("%s: expected a %s scalar, found %r" % (where, "integer" if integer else "number", v))
    return int(v) if integer else float(v)


class _Reader:
    """h5py access that turns every failure into a ResultsError naming the object."""
    def __init__(self, h5py, path):
        self.path = path
        self.h5py = h5py
        try:
            self.f = h5py.File(path, "r")
        except FileNotFoundError:
            raise ResultsError("%s: no such file" % path, EXIT_FS)
        except PermissionError:
            raise ResultsError("%s: permission denied" % path, EXIT_FS)
        except IsADirectoryError:
            raise ResultsError("%s: is a directory" % path, EXIT_FS)
        except Exception as ex:  # h5py: OSError "file signature not found", truncated files, ...
            raise ResultsError("%s: not an HDF5 file, or a damaged one (%s)" % (path, _short(ex)))

    def close(self):
        self.f.close()

    def attr(self, obj, name):
        where = "%s: attribute %s of %s" % (self.path, name, obj)
        try:
            o = self.f[obj]
            if name not in o.attrs:
                raise ResultsError("%s: missing" % where)
            return o.attrs[name]
        except ResultsError:
            raise
        except Exception as ex:
            raise ResultsError("%s: cannot be read (%s)" % (where, _short(ex)))

    def data(self, name, shape, kind):
        """The whole dataset; shape entries None match any length; kind 'f', 'i' or 'u'."""
        where = "%s: %s" % (self.path, name)
        try:
            if name not in self.f:
                raise ResultsError("%s: dataset missing" % where)
            d = self.f[name]
            if not isinstance(d, self.h5py.Dataset):
                raise ResultsError("%s: not a dataset" % where)
            if len(d.shape) != len(shape) or any(w is not None and w != g for w, g in zip(shape, d.shape)):
                raise ResultsError("%s: expected shape (%s), found (%s)" % (
                    where, ", ".join("n" if w is None else str(w) for w in shape), ", ".join(map(str, d.shape))))
            if d.size > MAX_ELEMENTS:  # a hostile shape must not make us allocate it
                raise ResultsError("%s: %d elements, more than the %d read" % (where, d.size, MAX_ELEMENTS))
            if d.dtype.kind not in (("i", "u") if kind in "iu" else (kind,)):
                raise ResultsError("%s: expected %s values, found type %s" % (
                    where, {"f": "floating-point", "i": "integer", "u": "integer"}[kind], d.dtype))
            return d[()]
        except ResultsError:
            raise
        except Exception as ex:  # checksum (fletcher32) or decompression failures, ...
            raise ResultsError("%s: cannot be read (%s)" % (where, _short(ex)))


def _short(ex):
    s = str(ex).strip().splitlines()
    return (s[0] if s else type(ex).__name__)[:200]


def _config_name(cfg, fallback):
    """The run's name as `prmeval report` gives it: the config's "name", else the
    base name of "model" (run) or "predictions" (eval), else the results file's;
    a rescored file is named after its source's configuration."""
    if isinstance(cfg, dict):
        if isinstance(cfg.get("source_config"), dict):
            return _config_name(cfg["source_config"], fallback)
        for k in ("name", "model", "predictions"):
            v = cfg.get(k)
            if isinstance(v, str) and v:
                return v if k == "name" else os.path.basename(v)
    return fallback


def _fmt_threshold(t):
    return repr(float(t))


def load_run(h5py, path):
    r = Run()
    r.path = path
    r.stem = os.path.splitext(os.path.basename(path))[0]
    rd = _Reader(h5py, path)
    try:
        if "schema" not in rd.f.attrs:
            raise ResultsError("%s: not a prmeval results file (no root attribute schema)" % path)
        schema = rd.attr("/", "schema")
        if _text(schema, "%s: attribute schema" % path) != SCHEMA:
            raise ResultsError("%s: not a prmeval results file (root attribute schema is %r, not %r)" % (
                path, _text(schema, path), SCHEMA))
        ver = _number(rd.attr("/", "schema_version"), "%s: attribute schema_version" % path, integer=True)
        if ver != SCHEMA_VERSION:
            raise ResultsError("%s: results schema version %d, this script reads version %d only" % (
                path, ver, SCHEMA_VERSION))
        r.command = _text(rd.attr("/", "command"), "%s: attribute command" % path)
        r.metric_definition = _text(rd.attr("/", "metric_definition"), "%s: attribute metric_definition" % path)
        r.predictions_sha256 = _text(rd.attr("/", "predictions_sha256"), "%s: attribute predictions_sha256" % path)
        files = rd.attr("/", "data_files")
        shas = rd.attr("/", "data_sha256")
        files = [files] if np.ndim(files) == 0 else list(files)
        shas = [shas] if np.ndim(shas) == 0 else list(shas)
        if len(files) != len(shas):
            raise ResultsError("%s: %d data_files but %d data_sha256" % (path, len(files), len(shas)))
        r.data_files = tuple(_text(x, "%s: attribute data_files" % path) for x in files)
        r.data_sha256 = tuple(_text(x, "%s: attribute data_sha256" % path) for x in shas)
        cfg_text = _text(rd.attr("/", "config_json"), "%s: attribute config_json" % path)
        try:
            cfg = json.loads(cfg_text) if cfg_text else {}
        except ValueError as ex:
            raise ResultsError("%s: attribute config_json is not JSON (%s)" % (path, ex))
        r.threshold = _number(rd.attr("/metrics", "threshold"), "%s: /metrics threshold" % path)
        if not math.isfinite(r.threshold):
            raise ResultsError("%s: /metrics threshold is not finite" % path)
        resc = cfg.get("rescore") if isinstance(cfg, dict) else None
        rule = resc.get("label_rule") if isinstance(resc, dict) else None
        r.label_rule = rule if isinstance(rule, str) and rule else "threshold"
        r.name = _config_name(cfg, r.stem)
        # the label as `prmeval report` writes it (a rule only for rescored files)
        r.label = "%s@%s%s%s" % (r.name, _fmt_threshold(r.threshold), " rescore" if isinstance(resc, dict) else "",
                                 "" if r.label_rule == "threshold" else " " + r.label_rule)
        if not isinstance(resc, dict) and isinstance(cfg, dict) and cfg.get("family") == "skywork" and \
                cfg.get("label_rule", "current") == "current":
            r.label_rule = "skywork-current"  # the run's own labels: the rule rescore calls so (job-config.md)
        # PRMScores, as the file stores them
        r.prmscore = {}

        def score(obj, key):
            v = _number(rd.attr(obj, "prmscore"), "%s: %s prmscore" % (path, obj))
            if not (math.isfinite(v) and 0 <= v <= 1):
                raise ResultsError("%s: %s prmscore %r is not in [0, 1]" % (path, obj, v))
            r.prmscore[key] = v
        score("/metrics/pooled", "Overall")
        for cls, ab in CLASSES:
            score("/metrics/classes/" + cls, ab)
        for cat, ab in CATEGORIES:
            score("/metrics/categories/" + cat, ab)
        r.pooled = {}
        for k in ("similarity", "correct_step_acc", "wrong_step_acc"):
            r.pooled[k] = _number(rd.attr("/metrics/pooled", k), "%s: /metrics/pooled %s" % (path, k))
        r.pooled["similarity_n"] = _number(rd.attr("/metrics/pooled", "similarity_n"),
                                           "%s: /metrics/pooled similarity_n" % path, integer=True)
        # the error-position analysis, pooled row
        wrong = rd.data("analysis/error_position/wrong_acc", (11, NPOS), "f")
        n = rd.data("analysis/error_position/n", (11, NPOS), "i")
        r.errpos_wrong, r.errpos_n = wrong[POOLED_ROW].astype(float), n[POOLED_ROW].astype(np.int64)
        bad = (r.errpos_n < 0) | ((r.errpos_n > 0) & ~((r.errpos_wrong >= 0) & (r.errpos_wrong <= 1)))
        if bad.any():
            raise ResultsError("%s: analysis/error_position: pooled position %d has n %d and wrong_acc %r" % (
                path, int(np.argmax(bad)) + 1, r.errpos_n[bad][0], r.errpos_wrong[bad][0]))
        # per-step scores of the evaluated samples
        status = rd.data("samples/status", (None,), "i")
        cls = rd.data("samples/class", (len(status),), "i")
        off = rd.data("samples/step_offset", (len(status) + 1,), "i").astype(np.int64)
        score_all = rd.data("steps/score", (None,), "f").astype(float)
        is_err = rd.data("steps/is_error", (len(score_all),), "u")
        if len(off) == 0 or off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] != len(score_all):
            raise ResultsError("%s: samples/step_offset: must start at 0, never decrease and end at %d (the "
                               "length of /steps)" % (path, len(score_all)))
        # the steps the pooled metric counts: evaluated samples of the error classes
        pooled = (status == STATUS_OK) & (cls != CLASS_CORRECT)
        keep = np.repeat(pooled, np.diff(off))
        if "samples/label_source" in rd.f:  # optional (docs/hdf5-schema.md): absent means from scores
            src = rd.data("samples/label_source", (len(status),), "i")
            r.thresholded = bool(np.any(src[pooled] == LABELS_FROM_SCORES))
        r.scores, r.is_error = score_all[keep], is_err[keep].astype(bool)
        if np.isinf(r.scores).any():
            raise ResultsError("%s: steps/score: infinite score" % path)
    finally:
        rd.close()
    return r


class Sweep:
    """A threshold sweep from `prmeval rescore --threshold A:B:S --csv FILE`."""
    path = name = label_rule = ""
    thresholds = None
    prmscore = None  # abbrev -> list of fractions, threshold order
    colour = None

    @property
    def label(self):
        return self.name + ("" if self.label_rule == "threshold" else " " + self.label_rule) + " (rescore --csv)"


def load_sweep(path):
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise ResultsError("%s: no such file" % path, EXIT_FS)
    except OSError as ex:
        raise ResultsError("%s: cannot read (%s)" % (path, ex.strerror), EXIT_FS)
    except (UnicodeDecodeError, csv.Error) as ex:
        raise ResultsError("%s: not a CSV text file (%s)" % (path, _short(ex)))
    if not rows or rows[0] != SWEEP_HEADER:
        raise ResultsError("%s:1: not a rescore CSV (expected the header %s)" % (path, ",".join(SWEEP_HEADER)))
    s = Sweep()
    s.path = path
    s.name = os.path.splitext(os.path.basename(path))[0]
    s.thresholds, s.prmscore = [], {k: [] for k in SWEEP_HEADER[2:]}
    rules = set()
    for ln, row in enumerate(rows[1:], start=2):
        if len(row) != len(SWEEP_HEADER):
            raise ResultsError("%s:%d: %d fields, expected %d" % (path, ln, len(row), len(SWEEP_HEADER)))
        try:
            vals = [float(x) for x in [row[0]] + row[2:]]
        except ValueError:
            raise ResultsError("%s:%d: a field that is not a number" % (path, ln))
        if not all(math.isfinite(v) for v in vals) or not all(0 <= v <= 1 for v in vals[1:]):
            raise ResultsError("%s:%d: a threshold that is not finite or a PRMScore outside [0, 1]" % (path, ln))
        rules.add(row[1])
        s.thresholds.append(vals[0])
        for k, v in zip(SWEEP_HEADER[2:], vals[1:]):
            s.prmscore[k].append(v)
    if len(rules) > 1:
        raise ResultsError("%s: several label rules (%s): one sweep per file" % (path, ", ".join(sorted(rules))))
    if not s.thresholds:
        raise ResultsError("%s: no rows" % path)
    s.label_rule = rules.pop()
    return s


def not_comparable(a, b):
    """Why runs a and b may not be compared (as `prmeval report` decides), or None."""
    if a.metric_definition != b.metric_definition:
        return "%s and %s use different metric definitions (%r vs %r)" % (
            a.path, b.path, a.metric_definition, b.metric_definition)
    if len(a.data_sha256) != len(b.data_sha256):
        return "%s and %s were computed on different data (%d data files vs %d; data_sha256 differ)" % (
            a.path, b.path, len(a.data_sha256), len(b.data_sha256))
    for k, (x, y) in enumerate(zip(a.data_sha256, b.data_sha256)):
        if not x or not y:
            return "%s and %s cannot be checked for the same data: no SHA-256 recorded for data file %d" % (
                a.path, b.path, k + 1)
        if x != y:
            return "%s and %s were computed on different data: data file %d differs (%s sha256 %s... vs %s " \
                   "sha256 %s...)" % (a.path, b.path, k + 1, a.data_files[k], x[:12], b.data_files[k], y[:12])
    return None
