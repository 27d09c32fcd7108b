#!/usr/bin/env python3
"""A terminal screen as SVG: reads `tmux capture-pane -e -p` output (text with SGR colour
escapes) on stdin and writes an SVG of the same cells, colours and emphasis on stdout.

    ansi2svg.py --cols 120 --rows 40 < screen.ansi > screen.svg

Colours use xterm's palette (the one the console's theme contrast test assumes); the
terminal's own foreground and background are a dark terminal's.
"""

import argparse
import re
import sys
from xml.sax.saxutils import escape

ANSI = [
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
    (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
]
DEFAULT_FG = (208, 208, 208)
DEFAULT_BG = (16, 16, 16)
CELL_W, CELL_H, FONT = 8.4, 17, 14
# Braille dot number (bit) -> (column, row) in its cell.
BRAILLE = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]


def indexed(i):
    if i < 16:
        return ANSI[i]
    if i < 232:
        n = i - 16
        level = lambda v: 0 if v == 0 else 55 + 40 * v
        return (level(n // 36), level((n // 6) % 6), level(n % 6))
    v = 8 + 10 * (i - 232)
    return (v, v, v)


class Pen:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.reverse = False

    def key(self):
        return (self.fg, self.bg, self.bold, self.dim, self.italic, self.underline, self.reverse)

    def sgr(self, params):
        codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = ANSI[c - 30]
            elif 90 <= c <= 97:
                self.fg = ANSI[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = ANSI[c - 40]
            elif 100 <= c <= 107:
                self.bg = ANSI[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    colour = indexed(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    colour = tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    colour = None
                if c == 38:
                    self.fg = colour
                else:
                    self.bg = colour
            i += 1


ESC = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])")


def parse(text, cols, rows):
    """Rows of cells (char, style key); missing cells are blank in the default style."""
    pen = Pen()
    screen = []
    for line in text.split("\n")[:rows]:
        cells = []
        pos = 0
        for m in ESC.finditer(line):
            for ch in line[pos:m.start()]:
                cells.append((ch, pen.key()))
            if m.group(2) == "m":
                pen.sgr(m.group(1))
            pos = m.end()
        for ch in line[pos:]:
            cells.append((ch, pen.key()))
        blank = (" ", Pen().key())
        cells = (cells + [blank] * cols)[:cols]
        screen.append(cells)
    while len(screen) < rows:
        screen.append([(" ", Pen().key())] * cols)
    return screen


def hexc(rgb):
    return "#%02x%02x%02x" % rgb


def colours(key):
    fg, bg, bold, dim, italic, underline, reverse = key
    fg, bg = fg or DEFAULT_FG, bg or DEFAULT_BG
    if reverse:
        fg, bg = bg, fg
    return fg, bg


def runs(cells, same):
    start = 0
    for i in range(1, len(cells) + 1):
        if i == len(cells) or not same(cells[i], cells[start]):
            yield start, cells[start:i]
            start = i


def svg(screen, cols, rows, title):
    w, h = round(cols * CELL_W), rows * CELL_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="DejaVu Sans Mono,Menlo,Consolas,monospace" font-size="{FONT}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{w}" height="{h}" fill="{hexc(DEFAULT_BG)}"/>',
    ]
    for y, cells in enumerate(screen):
        top = y * CELL_H
        for x, run in runs(cells, lambda a, b: colours(a[1])[1] == colours(b[1])[1]):
            bg = colours(run[0][1])[1]
            if bg != DEFAULT_BG:
                out.append(
                    f'<rect x="{x * CELL_W:.1f}" y="{top}" width="{len(run) * CELL_W:.1f}" '
                    f'height="{CELL_H}" fill="{hexc(bg)}"/>'
                )
        base = top + CELL_H - 4
        for x0, run in runs(cells, lambda a, b: a[1] == b[1]):
            key = run[0][1]
            fg, _ = colours(key)
            # Braille (the charts' points) as dots: fonts disagree on its glyphs' widths.
            dots = []
            for i, (ch, _) in enumerate(run):
                bits = ord(ch) - 0x2800
                if 0 < bits <= 0xFF:
                    for bit, (dx, dy) in enumerate(BRAILLE):
                        if bits & (1 << bit):
                            dots.append(f"M{(x0 + i) * CELL_W + 1.4 + dx * 3.6:.1f} {top + 1.5 + dy * 4}h2.2v2.2h-2.2z")
            if dots:
                out.append(f'<path fill="{hexc(fg)}" d="{"".join(dots)}"/>')
            text = "".join(" " if 0x2800 <= ord(c) <= 0x28FF else c for c, _ in run)
            for m in re.finditer(r"[^ ]+", text):
                x, text = x0 + m.start(), m.group(0)
                # One x per character: each glyph in its own cell, whatever the font's advance.
                xs = " ".join(f"{(x + i) * CELL_W:.1f}".rstrip("0").rstrip(".") for i in range(len(text)))
                attrs = [f'x="{xs}"', f'y="{base}"', f'fill="{hexc(fg)}"']
                if key[2]:
                    attrs.append('font-weight="bold"')
                if key[3]:
                    attrs.append('opacity="0.6"')
                if key[4]:
                    attrs.append('font-style="italic"')
                if key[5]:
                    attrs.append('text-decoration="underline"')
                out.append(f'<text {" ".join(attrs)}>{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cols", type=int, required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--title", default="flightdeck")
    args = ap.parse_args()
    screen = parse(sys.stdin.read(), args.cols, args.rows)
    sys.stdout.write(svg(screen, args.cols, args.rows, args.title))


if __name__ == "__main__":
    main()
