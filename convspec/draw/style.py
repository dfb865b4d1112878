"""Colours and line styles of the pictures: those of Dumoulin and Visin's conv_arithmetic
figures (Solarized blue input, cyan output, dashed padding, a kernel shaded dark at 40 %).
"""

from __future__ import annotations

BLUE = "#268bd2"  # input (conv_arithmetic's "blue", RGB 38,139,210)
CYAN = "#2aa198"  # output (RGB 42,161,152)
BASE03 = "#002b36"  # outlines
BASE02 = "#073642"  # kernel shading, at SHADE_ALPHA
BASE01 = "#586e75"  # text, projection lines
RED = "#dc322f"  # ceil_mode overhang
SHADE_ALPHA = 0.4
#: Group colours of channel wiring (Solarized accents).
GROUPS = ("#268bd2", "#d33682", "#859900", "#b58900", "#6c71c4", "#cb4b16", "#2aa198",
          "#dc322f")

#: Per cell kind: fill, edge colour, line style, and the legend's words.
CELLS: dict[str, dict[str, object]] = {
    "input": {"fill": BLUE, "edge": BASE03, "style": "solid", "legend": "input"},
    "padding": {"fill": "white", "edge": BASE03, "style": (0, (3, 2)), "legend": "padding"},
    "zero": {"fill": "#eef5fb", "edge": BASE01, "style": (0, (1, 1.5)),
             "legend": "inserted zero"},
    "overhang": {"fill": "#fbeaea", "edge": RED, "style": (0, (1, 1.5)),
                 "legend": "ceil_mode overhang"},
    "output": {"fill": CYAN, "edge": BASE03, "style": "solid", "legend": "output"},
    "cropped": {"fill": "white", "edge": CYAN, "style": (0, (3, 2)),
                "legend": "cropped by padding"},
}
