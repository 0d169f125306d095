#!/usr/bin/python3
"""The PRMBench paper's figures from prmeval results files (docs/plots.md).

usage: scripts/plot.py RUN.h5 [RUN.h5 ...] [SWEEP.csv ...] --out DIR
                       [--positions A:B] [--force] [--quiet]

Writes to DIR, each figure as PNG and SVG with a CSV of the values drawn
(read back from the plotted artists, not recomputed):
  prmscore_bars     per-class and per-category PRMScore, grouped bars, one colour per run
  prmscore_radar    per-class PRMScore on a radar
  error_position    pooled wrong_step_acc against the 1-based error position
  step_scores       per run: histogram of raw step scores of correct vs erroneous steps,
                    with the similarity and positive-bias figures the metric reports
  threshold         Overall PRMScore against threshold, one curve per run, from
                    `prmeval rescore --out` files (and their source) or `rescore --csv` sweeps
  runs.csv          each run's legend name, colour, file, command, threshold

Runs are named as `prmeval report` names them (the job's name or the file stem,
then @threshold); a run keeps its colour in every figure. Runs whose data or
metric definition differ are refused (exit 2) unless --force, as `prmeval report`.
Exit codes: 0 ok, 1 matplotlib or h5py missing, 2 usage or runs not comparable,
3 malformed input (names the file and object), 4 file system.
Run with /usr/bin/python3 (Debian's python3-matplotlib and python3-h5py)."""
import argparse
import csv
import io
import math
import os
import re
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prmeval_results as pr  # noqa: E402

FIGURES = ("prmscore_bars", "prmscore_radar", "error_position", "step_scores", "threshold")


def die(msg, code):
    print("plot.py: " + msg, file=sys.stderr)
    sys.exit(code)


def need(ex):
    die("%s: install python3-matplotlib and python3-h5py (scripts/deps.sh) and run with /usr/bin/python3" % ex, 1)


def import_matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg")  # headless: no display needed
        import matplotlib.pyplot as plt
    except ImportError as ex:
        need(ex)
    matplotlib.rcParams["svg.hashsalt"] = "prmeval"  # reproducible SVG ids
    matplotlib.rcParams["svg.fonttype"] = "none"     # text stays text: legends searchable
    return plt


def colours(plt, n):
    """n distinct colours, in run order (tab10, tab20, then an even spread)."""
    if n <= 10:
        cm = plt.get_cmap("tab10")
        return [cm(i) for i in range(n)]
    if n <= 20:
        cm = plt.get_cmap("tab20")
        return [cm(i) for i in range(n)]
    cm = plt.get_cmap("turbo")
    return [cm(0.05 + 0.9 * i / (n - 1)) for i in range(n)]


def hexcolour(c):
    return "#%02x%02x%02x" % tuple(int(round(255 * x)) for x in c[:3])


class Out:
    """Writes each output under NAME.tmp and renames it when complete."""
    def __init__(self, d):
        self.dir = d

    def path(self, name):
        return os.path.join(self.dir, name)

    def commit(self, name, write):
        final = self.path(name)
        tmp = final + ".tmp"
        try:
            write(tmp)
            os.replace(tmp, final)
        except OSError as ex:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            die("%s: cannot write (%s)" % (final, ex.strerror or ex), pr.EXIT_FS)

    def figure(self, fig, name, plt):
        self.commit(name + ".png", lambda p: fig.savefig(p, format="png", dpi=110, metadata={"Software": None},
                                                         bbox_inches="tight"))
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
        svg = stable_ids(buf.getvalue())

        def write(p):
            with open(p, "w", encoding="utf-8") as fh:
                fh.write(svg)
        self.commit(name + ".svg", write)
        plt.close(fig)

    def table(self, name, header, rows):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)

        def write(p):
            with open(p, "w", encoding="utf-8") as fh:
                fh.write(buf.getvalue())
        self.commit(name + ".csv", write)


def stable_ids(svg):
    """Clip-path ids numbered in order of appearance: matplotlib derives the id
    of a path clip (the polar axes' circle) from a Python object id, so the
    same figure would give another SVG on every run."""
    ids = {}
    return re.sub(r'(id="|url\(#)(p[0-9a-f]{10})(?=[")])',
                  lambda m: m.group(1) + ids.setdefault(m.group(2), "clip%d" % len(ids)), svg)


def num(v):
    """A drawn value as text that reads back to the same double."""
    return repr(float(v))


def legend(ax, **kw):
    ax.legend(fontsize="small", frameon=False, **kw)


def note(fig, text):
    """The --force flag, above the figure: runs drawn that are not comparable."""
    if text:
        fig.text(0.5, 1.02, textwrap.fill(text, 140), fontsize="x-small", color="firebrick", ha="center",
                 va="bottom")


# ---- figures ----------------------------------------------------------------

def fig_bars(plt, runs, out, flag):
    groups = [["Overall"] + [ab for _, ab in pr.CLASSES], [ab for _, ab in pr.CATEGORIES]]
    fig, axes = plt.subplots(1, 2, figsize=(12 + 0.15 * len(runs), 4.2), gridspec_kw={"width_ratios": [10, 3.4]},
                             sharey=True)
    width = 0.8 / len(runs)
    rows = []
    for ax, cols in zip(axes, groups):
        for i, r in enumerate(runs):
            x = [k + (i - (len(runs) - 1) / 2) * width for k in range(len(cols))]
            bars = ax.bar(x, [100 * r.prmscore[c] for c in cols], width, color=r.colour,
                          label=r.label if ax is axes[0] else None)
            rows += [(r.label, r.path, c, num(b.get_height())) for c, b in zip(cols, bars)]
        ax.set_xticks(range(len(cols)), cols)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("PRMScore (x100)")
    axes[0].set_title("PRMScore per class (Overall pooled)")
    axes[1].set_title("per category")
    fig.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(runs)), fontsize="small",
               frameon=False)
    note(fig, flag)
    out.figure(fig, "prmscore_bars", plt)
    out.table("prmscore_bars", ["run", "file", "column", "prmscore_x100"], rows)


def fig_radar(plt, runs, out, flag):
    cols = [ab for _, ab in pr.CLASSES]
    ang = [2 * math.pi * k / len(cols) for k in range(len(cols))]
    fig = plt.figure(figsize=(6.5, 6.5))
    ax = fig.add_subplot(projection="polar")
    rows = []
    for r in runs:
        v = [100 * r.prmscore[c] for c in cols]
        (line,) = ax.plot(ang + ang[:1], v + v[:1], color=r.colour, marker="o", markersize=3, label=r.label)
        ax.fill(ang + ang[:1], v + v[:1], color=r.colour, alpha=0.08)
        ys = line.get_ydata()[:-1]  # the closing point repeats the first
        rows += [(r.label, r.path, c, num(y)) for c, y in zip(cols, ys)]
    ax.set_xticks(ang, cols)
    ax.set_ylim(0, 100)
    ax.set_title("PRMScore per class (x100)")
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=min(3, len(runs)))
    note(fig, flag)
    out.figure(fig, "prmscore_radar", plt)
    out.table("prmscore_radar", ["run", "file", "column", "prmscore_x100"], rows)


def fig_error_position(plt, runs, out, flag, lo, hi):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    rows = []
    for r in runs:
        ps = [p for p in range(lo, hi + 1) if r.errpos_n[p - 1] > 0]
        (line,) = ax.plot(ps, [100 * r.errpos_wrong[p - 1] for p in ps], color=r.colour, marker="o", label=r.label)
        rows += [(r.label, r.path, int(x), num(y), int(r.errpos_n[int(x) - 1]))
                 for x, y in zip(line.get_xdata(), line.get_ydata())]
    ax.set_xlabel("position of the error step (1-based%s)" % (", 32 = 32 and later" if hi == pr.NPOS else ""))
    ax.set_ylabel("erroneous steps judged invalid (%)")
    ax.set_title("Error detection against error position (pooled error classes)")
    ax.set_xticks(range(lo, hi + 1))
    ax.set_ylim(-3, 103)  # points at 0 and 100 drawn whole
    ax.set_yticks(range(0, 101, 20))
    ax.grid(alpha=0.3)
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=min(3, len(runs)))
    note(fig, flag)
    out.figure(fig, "error_position", plt)
    out.table("error_position", ["run", "file", "position", "wrong_step_acc_x100", "n"], rows)


def score_bins(np, scores):
    """Twenty bins over [0, 1] when every score is a probability, else over the scores' range."""
    if len(scores) == 0 or (scores.min() >= 0 and scores.max() <= 1):
        return np.linspace(0.0, 1.0, 21)
    lo, hi = float(scores.min()), float(scores.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, 21)


def fig_step_scores(plt, np, runs, out, flag):
    ncol = min(3, len(runs))
    nrow = (len(runs) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.6 * nrow), squeeze=False)
    rows, summary = [], []
    for k, r in enumerate(runs):
        ax = axes[k // ncol][k % ncol]
        fin = ~np.isnan(r.scores)  # NaN: the prediction gave labels only
        groups = [("correct", r.scores[fin & ~r.is_error]), ("erroneous", r.scores[fin & r.is_error])]
        bins = score_bins(np, r.scores[fin])
        for g, s in groups:
            if len(s) == 0:
                continue
            style = dict(color=r.colour, alpha=0.45) if g == "correct" else \
                dict(histtype="step", color=r.colour, hatch="///", linewidth=1.4)
            heights, edges, _ = ax.hist(s, bins=bins, weights=np.full(len(s), 1.0 / len(s)),
                                        label="%s steps (%d)" % (g, len(s)), **style)
            counts, _ = np.histogram(s, bins=edges)
            rows += [(r.label, r.path, g, num(edges[b]), num(edges[b + 1]), int(counts[b]), num(heights[b]))
                     for b in range(len(heights))]
        p = r.pooled
        val = lambda v: "-" if v == -1 else "%.3f" % v  # noqa: E731 (-1: the metric's "empty")
        text = "similarity %s (n %d), correct_step_acc %s, wrong_step_acc %s" % (
            val(p["similarity"]), p["similarity_n"], val(p["correct_step_acc"]), val(p["wrong_step_acc"]))
        if not fin.any():
            ax.text(0.5, 0.5, "no raw scores (labels only)", transform=ax.transAxes, ha="center", va="center")
        elif r.label_rule == "threshold" and r.thresholded and bins[0] <= r.threshold <= bins[-1]:
            ax.axvline(r.threshold, color="grey", linestyle="--", linewidth=1, label="threshold")
        ax.set_title("%s\n%s" % (r.label, text), fontsize="small", color=r.colour)
        ax.set_xlabel("step score")
        ax.set_ylabel("fraction of steps")
        if fin.any():
            legend(ax, loc="best")
        summary.append((r.label, r.path, int((fin & ~r.is_error).sum()), int((fin & r.is_error).sum()),
                        int((~fin).sum()), num(p["similarity"]), p["similarity_n"], num(p["correct_step_acc"]),
                        num(p["wrong_step_acc"])))
    for k in range(len(runs), nrow * ncol):
        axes[k // ncol][k % ncol].set_visible(False)
    fig.suptitle("Step scores of correct vs erroneous steps (evaluated error-class samples, as the pooled metric)")
    fig.tight_layout()
    note(fig, flag)
    out.figure(fig, "step_scores", plt)
    out.table("step_scores", ["run", "file", "steps", "bin_lo", "bin_hi", "count", "fraction"], rows)
    out.table("step_scores_summary", ["run", "file", "correct_steps", "error_steps", "steps_without_score",
                                      "similarity", "similarity_n", "correct_step_acc", "wrong_step_acc"], summary)


def fig_threshold(plt, runs, sweeps, out, flag, quiet):
    curves = []  # (label, colour, [(threshold, overall, file)])
    seen = {}
    for r in runs:
        if r.group not in seen:
            seen[r.group] = len(curves)
            rule = "" if r.label_rule == "threshold" else " " + r.label_rule
            curves.append((r.name + rule, r.colour, []))
        curves[seen[r.group]][2].append((r.threshold, r.prmscore["Overall"], r.path))
    for s in sweeps:
        curves.append((s.label, s.colour, [(t, v, s.path) for t, v in zip(s.thresholds, s.prmscore["Overall"])]))
    curves = [c for c in curves if len({t for t, _, _ in c[2]}) >= 2]
    if not curves:
        if not quiet:
            print("plot.py: threshold figure skipped: no run at two or more thresholds (give `prmeval rescore "
                  "--out` files with their source, or a `rescore --csv` sweep)", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    rows = []
    for label, colour, pts in curves:
        pts = sorted(pts, key=lambda x: x[0])
        (line,) = ax.plot([t for t, _, _ in pts], [100 * v for _, v, _ in pts], color=colour, marker="o", label=label)
        rows += [(label, f, num(x), num(y)) for (_, _, f), x, y in zip(pts, line.get_xdata(), line.get_ydata())]
    ax.set_xlabel("threshold (a step is valid when its score > threshold)")
    ax.set_ylabel("Overall PRMScore (x100)")
    ax.set_title("PRMScore against threshold")
    ax.grid(alpha=0.3)
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=min(3, len(curves)))
    note(fig, flag)
    out.figure(fig, "threshold", plt)
    out.table("threshold", ["run", "file", "threshold", "overall_x100"], rows)


# ---- command line ---------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message):  # exit 2 with one line, as prmeval's usage errors
        die("%s (scripts/plot.py --help)" % message, pr.EXIT_USAGE)


def parse_args(argv):
    ap = Parser(prog="scripts/plot.py", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="Figures and their tables: docs/plots.md")
    ap.add_argument("inputs", nargs="+", metavar="FILE", help="results files (.h5) and rescore --csv sweeps (.csv)")
    ap.add_argument("--out", required=True, metavar="DIR", help="folder for the figures (created)")
    ap.add_argument("--positions", default="1:10", metavar="A:B",
                    help="error positions drawn, 1-based (default 1:10; the paper shows 2:10; at most 1:32)")
    ap.add_argument("--force", action="store_true", help="draw runs that are not comparable (flagged in the figures)")
    ap.add_argument("--quiet", action="store_true", help="no summary on stdout")
    a = ap.parse_args(argv)
    try:
        lo, hi = (int(x) for x in a.positions.split(":"))
    except ValueError:
        ap.error("--positions: %r is not A:B" % a.positions)
    if not 1 <= lo <= hi <= pr.NPOS:
        ap.error("--positions: need 1 <= A <= B <= %d" % pr.NPOS)
    a.lo, a.hi = lo, hi
    return a


def main(argv):
    a = parse_args(argv)
    try:
        import h5py
        import numpy as np
    except ImportError as ex:
        need(ex)
    runs, sweeps = [], []
    try:
        for p in a.inputs:
            if p.lower().endswith(".csv"):
                sweeps.append(pr.load_sweep(p))
            else:
                runs.append(pr.load_run(h5py, p))
    except pr.ResultsError as ex:
        die(str(ex), ex.code)
    if not runs and not sweeps:
        die("no results files given", pr.EXIT_USAGE)
    flag = ""
    why = [w for w in (pr.not_comparable(runs[0], r) for r in runs[1:]) if w] if runs else []
    if why:
        if not a.force:
            die("not comparable: %s (--force draws them anyway, flagged)" % why[0], pr.EXIT_USAGE)
        print("plot.py: warning: --force: %s" % "; ".join(why), file=sys.stderr)
        flag = "NOT COMPARABLE (--force): " + "; ".join(why)
    plt = import_matplotlib()  # after the inputs are known good (it takes a second to load)
    if sweeps:
        print("plot.py: warning: a rescore CSV holds no provenance: the data and metric definition of %s cannot "
              "be checked" % ", ".join(s.path for s in sweeps), file=sys.stderr)
    # names: a label used twice gets its file stem
    labels = [r.label for r in runs]
    for r in runs:
        if labels.count(r.label) > 1:
            r.label = "%s [%s]" % (r.label, r.stem)
    for r, c in zip(runs + sweeps, colours(plt, len(runs) + len(sweeps))):
        r.colour = c
    try:
        os.makedirs(a.out, exist_ok=True)
    except OSError as ex:
        die("%s: cannot create the output folder (%s)" % (a.out, ex.strerror or ex), pr.EXIT_FS)
    out = Out(a.out)
    out.table("runs", ["run", "colour", "file", "command", "threshold", "label_rule", "comparable"],
              [(r.label, hexcolour(r.colour), r.path, r.command, num(r.threshold), r.label_rule,
                "no" if flag else "yes") for r in runs] +
              [(s.label, hexcolour(s.colour), s.path, "rescore --csv", "", s.label_rule, "unchecked")
               for s in sweeps])
    if runs:
        fig_bars(plt, runs, out, flag)
        fig_radar(plt, runs, out, flag)
        fig_error_position(plt, runs, out, flag, a.lo, a.hi)
        fig_step_scores(plt, np, runs, out, flag)
    fig_threshold(plt, runs, sweeps, out, flag, a.quiet)
    if not a.quiet:
        made = sorted(f for f in os.listdir(a.out) if f.endswith(".png") and f[:-4] in FIGURES)
        print("%d runs, %d sweeps -> %s: %s" % (len(runs), len(sweeps), a.out, ", ".join(made)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
