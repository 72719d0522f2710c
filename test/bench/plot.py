#!/usr/bin/python3
"""Draw an SVG plot from a small table of benchmark results.

Python's standard library only (no matplotlib), so the plots in docs/img/
can be redrawn on any machine from the tables beside them.

The table is tab-separated text with a header line.  Lines that are empty
or start with '#' are skipped.  The columns are:

    series    the name of a curve (xy) or of a group of bars (bar)
    x         a number (xy) or a category name (bar)
    y         a number
    note      optional: a short text written beside the point (xy only)

Two kinds of plot:

    xy    one line per series through its points, sorted by x; a series
          whose name ends in '*' is drawn as points only (figures from
          another run, not comparable as a curve)
    bar   one group of bars per x category, one bar per series

Usage:
    python3 test/bench/plot.py xy  TABLE.tsv OUT.svg --title T \\
        --xlabel X --ylabel Y [--logy]
    python3 test/bench/plot.py bar TABLE.tsv OUT.svg --title T --ylabel Y
"""
import argparse
import math
import sys
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 80, 200, 40, 60
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
           "#8c564b", "#e377c2", "#7f7f7f"]
MARKERS = ["circle", "square", "diamond", "triangle"]


def read_table(path):
    """Rows of (series, x, y, note) in file order; x stays text."""
    rows = []
    with open(path, encoding="utf-8") as f:
        header = None
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split("\t")
            if header is None:
                header = [c.strip().lower() for c in cells]
                for need in ("series", "x", "y"):
                    if need not in header:
                        sys.exit(f"{path}: header lacks column '{need}'")
                continue
            rec = dict(zip(header, cells))
            rows.append((rec["series"], rec["x"], float(rec["y"]),
                         rec.get("note", "").strip()))
    if not rows:
        sys.exit(f"{path}: no data rows")
    return rows


def nice_ticks(lo, hi, n=5):
    """About n round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw),
               default=10 * mag)
    first = math.floor(lo / step) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def log_ticks(lo, hi):
    """Powers of ten and their 2 and 5 multiples within [lo, hi]."""
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                ticks.append(v)
    return ticks


def snap_log(v, up):
    """The nearest 1, 2 or 5 times a power of ten above (up) or below v."""
    e = math.floor(math.log10(v))
    steps = [m * 10 ** k for k in (e - 1, e, e + 1) for m in (1, 2, 5)]
    return min(s for s in steps if s >= v) if up else \
        max(s for s in steps if s <= v)


def fmt(v):
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:g}"


class Svg:
    def __init__(self, title):
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
            'font-family="sans-serif" font-size="12">',
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
            f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{TOP - 15}" '
            f'text-anchor="middle" font-size="14">{escape(title)}</text>']

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, anchor="start", extra=""):
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" '
                 f'{extra}>{escape(s)}</text>')

    def line(self, x1, y1, x2, y2, colour="#000", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
                 f'y2="{y2:.1f}" stroke="{colour}" stroke-width="{width}"{d}/>')

    def marker(self, kind, x, y, colour):
        r = 4
        if kind == "circle":
            self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" '
                     f'fill="{colour}"/>')
        elif kind == "square":
            self.add(f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" '
                     f'height="{2 * r}" fill="{colour}"/>')
        elif kind == "diamond":
            self.add(f'<polygon points="{x},{y - r - 1} {x + r + 1},{y} '
                     f'{x},{y + r + 1} {x - r - 1},{y}" fill="{colour}"/>')
        else:
            self.add(f'<polygon points="{x},{y - r - 1} {x + r + 1},{y + r} '
                     f'{x - r - 1},{y + r}" fill="{colour}"/>')

    def legend(self, entries):
        x = WIDTH - RIGHT + 15
        for i, (name, colour, kind) in enumerate(entries):
            y = TOP + 10 + 20 * i
            self.marker(kind, x + 6, y - 4, colour)
            self.text(x + 18, y, name)

    def frame(self, xlabel, ylabel):
        px1, py1 = LEFT, TOP
        px2, py2 = WIDTH - RIGHT, HEIGHT - BOTTOM
        self.add(f'<rect x="{px1}" y="{py1}" width="{px2 - px1}" '
                 f'height="{py2 - py1}" fill="none" stroke="#000"/>')
        self.text((px1 + px2) / 2, HEIGHT - 15, xlabel, "middle")
        self.text(18, (py1 + py2) / 2, ylabel, "middle",
                  f'transform="rotate(-90 18 {(py1 + py2) / 2})"')

    def save(self, path):
        self.add("</svg>")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.parts) + "\n")


def y_axis(svg, lo, hi, logy):
    """Draws the y grid and labels; returns the data-to-pixel function."""
    py1, py2 = TOP, HEIGHT - BOTTOM
    if logy:
        lo, hi = math.log10(lo), math.log10(hi)

    def to_px(v):
        v = math.log10(v) if logy else v
        return py2 - (v - lo) / (hi - lo) * (py2 - py1)

    ticks = log_ticks(10 ** lo, 10 ** hi) if logy else nice_ticks(lo, hi)
    for t in ticks:
        if not logy and not lo <= t <= hi:
            continue
        y = to_px(t)
        svg.line(LEFT, y, WIDTH - RIGHT, y, "#ddd")
        svg.text(LEFT - 6, y + 4, fmt(t), "end")
    return to_px


def plot_xy(rows, args):
    svg = Svg(args.title)
    xs = [float(r[1]) for r in rows]
    ys = [r[2] for r in rows]
    xpad = (max(xs) - min(xs)) * 0.08 or 0.01
    xlo, xhi = min(xs) - xpad, max(xs) + xpad
    if args.logy:
        ylo, yhi = snap_log(min(ys) / 1.2, False), snap_log(max(ys) * 1.2, True)
    else:
        ypad = (max(ys) - min(ys)) * 0.1 or 1
        ylo, yhi = max(0, min(ys) - ypad), max(ys) + ypad
    ypx = y_axis(svg, ylo, yhi, args.logy)
    px1, px2 = LEFT, WIDTH - RIGHT

    def xpx(v):
        return px1 + (v - xlo) / (xhi - xlo) * (px2 - px1)

    for t in nice_ticks(xlo, xhi):
        if xlo <= t <= xhi:
            svg.line(xpx(t), TOP, xpx(t), HEIGHT - BOTTOM, "#eee")
            svg.text(xpx(t), HEIGHT - BOTTOM + 16, fmt(t), "middle")
    svg.frame(args.xlabel, args.ylabel)

    series = list(dict.fromkeys(r[0] for r in rows))
    legend = []
    for i, name in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        kind = MARKERS[i % len(MARKERS)]
        pts = sorted((float(r[1]), r[2], r[3]) for r in rows if r[0] == name)
        if not name.endswith("*"):
            for (x1, y1, _), (x2, y2, _) in zip(pts, pts[1:]):
                svg.line(xpx(x1), ypx(y1), xpx(x2), ypx(y2), colour, 2)
        for x, y, note in pts:
            svg.marker(kind, xpx(x), ypx(y), colour)
            if note:
                svg.text(xpx(x) + 7, ypx(y) - 6, note, "start",
                         'font-size="10" fill="#444"')
        legend.append((name, colour, kind))
    svg.legend(legend)
    svg.save(args.out)


def plot_bar(rows, args):
    svg = Svg(args.title)
    cats = list(dict.fromkeys(r[1] for r in rows))
    series = list(dict.fromkeys(r[0] for r in rows))
    yhi = max(r[2] for r in rows) * 1.1
    ypx = y_axis(svg, 0, yhi, False)
    px1, px2 = LEFT, WIDTH - RIGHT
    group = (px2 - px1) / len(cats)
    bar = group * 0.8 / len(series)
    for ci, cat in enumerate(cats):
        gx = px1 + ci * group + group * 0.1
        svg.text(px1 + (ci + 0.5) * group, HEIGHT - BOTTOM + 16, cat,
                 "middle")
        for si, name in enumerate(series):
            vals = [r[2] for r in rows if r[0] == name and r[1] == cat]
            if not vals:
                continue
            y = ypx(vals[0])
            svg.add(f'<rect x="{gx + si * bar:.1f}" y="{y:.1f}" '
                    f'width="{bar * 0.92:.1f}" '
                    f'height="{HEIGHT - BOTTOM - y:.1f}" '
                    f'fill="{COLOURS[si % len(COLOURS)]}"/>')
    svg.frame(args.xlabel, args.ylabel)
    svg.legend([(s, COLOURS[i % len(COLOURS)], "square")
                for i, s in enumerate(series)])
    svg.save(args.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=("xy", "bar"))
    ap.add_argument("table")
    ap.add_argument("out")
    ap.add_argument("--title", default="")
    ap.add_argument("--xlabel", default="")
    ap.add_argument("--ylabel", default="")
    ap.add_argument("--logy", action="store_true",
                    help="logarithmic y axis (xy only)")
    args = ap.parse_args()
    rows = read_table(args.table)
    if args.kind == "xy":
        plot_xy(rows, args)
    else:
        plot_bar(rows, args)


if __name__ == "__main__":
    main()
