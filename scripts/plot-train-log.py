#!/usr/bin/env python3
"""Draws a training curve (train and dev loss, dev PER per epoch) as SVG from the
"history" of a `hark train` log: OUT/train_log.json, or OUT/checkpoint/state.json of a
run still going. Standard library only.

usage: scripts/plot-train-log.py LOG.json OUT.svg [TITLE]
"""
import json
import os
import sys

W, H, L, R, T, B = 760, 420, 70, 80, 50, 55


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        hist = json.load(f)["history"]
    if not hist:
        sys.exit(f"{sys.argv[1]}: empty history")
    title = sys.argv[3] if len(sys.argv) == 4 else os.path.basename(sys.argv[1])
    ep = [h["epoch"] for h in hist]
    tl = [h["train_loss"] for h in hist]
    dl = [h["dev_loss"] for h in hist]
    per = [100.0 * h["dev_per"] for h in hist]
    pw, ph = W - L - R, H - T - B
    x0, x1 = min(ep), max(max(ep), min(ep) + 1)
    lmax = max(tl + dl) * 1.05
    pmax = max(10.0, -(-max(per) // 10) * 10)
    sx = lambda e: L + (e - x0) / (x1 - x0) * pw
    sl = lambda v: T + ph - v / lmax * ph
    sp = lambda v: T + ph - v / pmax * ph
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
         '<rect width="100%" height="100%" fill="white"/>',
         f'<text x="{L + pw / 2}" y="24" text-anchor="middle" font-size="14">{title}</text>']
    for e in ep:
        o.append(f'<line x1="{sx(e):.1f}" y1="{T}" x2="{sx(e):.1f}" y2="{T + ph}" stroke="#eee"/>')
        o.append(f'<text x="{sx(e):.1f}" y="{T + ph + 16}" text-anchor="middle">{e}</text>')
    for k in range(6):
        y = T + ph - k / 5 * ph
        o.append(f'<line x1="{L}" y1="{y:.1f}" x2="{L + pw}" y2="{y:.1f}" stroke="#eee"/>')
        o.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{lmax * k / 5:.2f}</text>')
        o.append(f'<text x="{L + pw + 6}" y="{y + 4:.1f}" fill="#d62728">{pmax * k / 5:.0f}</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="black"/>')
    o.append(f'<text x="{L + pw / 2}" y="{H - 14}" text-anchor="middle">epoch</text>')
    o.append(f'<text transform="translate(18 {T + ph / 2}) rotate(-90)" text-anchor="middle">'
             'CTC loss per frame</text>')
    o.append(f'<text transform="translate({W - 22} {T + ph / 2}) rotate(90)" '
             'text-anchor="middle" fill="#d62728">dev PER %</text>')
    series = [("train loss", tl, sl, "#1f77b4", ""), ("dev loss", dl, sl, "#2ca02c", ""),
              ("dev PER %", per, sp, "#d62728", ' stroke-dasharray="5 3"')]
    for i, (name, ys, s, c, dash) in enumerate(series):
        pts = " ".join(f"{sx(e):.1f},{s(v):.1f}" for e, v in zip(ep, ys))
        o.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
        for e, v in zip(ep, ys):
            o.append(f'<circle cx="{sx(e):.1f}" cy="{s(v):.1f}" r="3" fill="{c}"/>')
        lx, ly = L + pw - 120, T + 18 + 18 * i
        o.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 20}" y2="{ly}" stroke="{c}" '
                 f'stroke-width="2"{dash}/>')
        o.append(f'<text x="{lx + 26}" y="{ly + 4}">{name}</text>')
    o.append("</svg>\n")
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(o))
    os.replace(tmp, sys.argv[2])


if __name__ == "__main__":
    main()
