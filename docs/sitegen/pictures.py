"""The pictures of the geometric inventory IDs, each one ``convspec draw`` command.

The site shows every picture with the command that drew it, so a reader can redraw it with
other sizes. Every picture is drawn by the build (SVG stills, GIF animations), through
:func:`convspec.cli.main`, from the geometry.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from convspec.cli import main


@dataclass(frozen=True)
class Picture:
    """One ``convspec draw`` command (without ``-o``), what it shows, and its file's suffix."""

    args: str
    caption: str
    suffix: str = "svg"

    def command(self, name: str) -> str:
        """The shell command that draws this picture into ``name``."""
        return f"convspec draw {self.args} -o {name}"

    def draw(self) -> bytes:
        """The picture's bytes, drawn by the command; a failure stops the build."""
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"picture.{self.suffix}"
            argv = ["draw", *self.args.split(), "-o", str(out)]
            with contextlib.redirect_stdout(io.StringIO()):
                status = main(argv)
            if status != 0 or not out.is_file():
                raise RuntimeError(f"`{self.command(out.name)}` exited {status}")
            return out.read_bytes()


P = Picture
PICTURES: dict[str, tuple[Picture, ...]] = {
    "B1": (P("conv --input 6x6 -k 3 -s 2 --frame 3",
             "(6 - 3)/2 + 1 = 2.5: libraries floor it to 2, and the last row and column are "
             "never read (the last window)"),),
    "B2": (P("conv --input 5x5 -k 3", "narrow: no padding, 5 - 3 + 1 = 3"),),
    "B3": (P("conv --input 5x5 -k 3 -p 2", "wide: padding m - 1 = 2, 5 + 3 - 1 = 7"),),
    "B4": (P("conv --input 5x5 -k 3 -p 1", "same: padding (m - 1)/2 = 1 keeps 5"),
           P("conv --input 5x5 -k 4 -p same", "an even kernel pads 1 before and 2 after "
             "(PyTorch's split)")),
    "B5": (P("stack --layers 3,3,3", "three valid 3×3 layers: 7 → 5 → 3 → 1"),),
    "B6": (P("conv --input 5x5 -k 3 -s 2 -p 1 --gif --dpi 64", "the demo W=5, F=3, S=2, P=1 gives 3",
             "gif"),),
    "B7": (P("conv --input 7x7 -k 3 -d 2", "a 3×3 kernel at dilation 2 spans 3 + 2·1 = 5"),),
    "B8": (P("conv --input 7x7 -k 3 -d 2 --gif --dpi 64", "the taps at i + m·d, j + n·d", "gif"),),
    "B9": (P("max_pool --input 4x4 -k 2", "F=2, S=2 tiles: (4 - 2)/2 + 1 = 2, a quarter of "
             "the activations kept"),
           P("max_pool --input 5x5 -k 3 -s 2", "F=3, S=2 overlaps")),
    "B10": (P("conv_transpose --input 2x2 -k 3 -s 2 --gif --dpi 64",
              "stride 2: one zero between inputs, padding m - 1 = 2: 2·(2 - 1) + 3 = 5", "gif"),
            P("conv_transpose --input 3x3 -k 3", "stride 1: padding m - 1 = 2 each side, "
              "3 + 3 - 1 = 5")),
    "B13": (P("conv --input 5x5 -k 3 -p 1", "the regular 3×3 sampling grid that a deformable "
              "convolution shifts: one (Δrow, Δcol) per tap, 2·3·3 = 18 offset channels"),),
    "B14": (P("conv --in-channels 6 -c 6 -g 3 --view channels",
              "3 groups: each output channel reads 6/3 = 2 input channels"),),
    "C12": (P("stack --layers 3,3", "two stacked 3×3 see 5×5"),
            P("stack --layers 3,3:1:2", "a dilated second layer sees 7×7")),
    "D1": (P("conv --input 5 -k 3 --gif --dpi 64", "each output reads the window of the previous one "
             "shifted by one: the rows of a Toeplitz matrix", "gif"),),
    "D2": (P("conv --input 4 -k 3 -p 2", "full convolution: zero-padded to length 4 + 3 - 1 = 6"),),
    "D3": (P("conv --input 3x3 -k 2 -p 1", "2-D full convolution: padded to (3+2-1)×(3+2-1)"),),
    "D4": (P("conv --input 4x4 -k 3 --gif --dpi 64", "each window becomes one column of X_col", "gif"),),
    "D5": (P("conv --input 5 -k 3", "each output is a row of a sparse matrix: 3 non-zeros, "
             "the same 3 weights in every row"),),
    "D6": (P("conv --input 7x7 -k 7", "a 7×7 kernel on a 7×7 input: one output reads "
             "everything, as a fully connected unit does"),),
    "D7": (P("conv --input 12x12 -k 7", "the 7×7 classifier slid over a 12×12 map: 6×6 scores"),),
    "D8": (P("conv_transpose --input 3 -k 3 --view scatter --gif --dpi 64",
             "x = Cᵀz: each of the 3 inputs scatters through the 3 taps; 5 outputs", "gif"),
           P("conv_transpose --input 3x3 -k 3 -s 2 -p 1 --view scatter",
             "2-D, stride 2, padding 1: the padding crops the scattered border")),
    "E1": (P("conv --input 4x4 -k 3 -p 2", "wide convolution: the input full-padded by m - 1"),),
    "E9": (P("conv --in-channels 4 -c 4 -g 2 --view channels",
             "2 groups: two independent convolutions side by side"),),
    "E10": (P("conv --in-channels 4 -c 4 -g 4 --view channels",
              "depthwise: G = C_in, each output reads one input channel"),),
    "E14": (P("conv --input 7x7 -k 3 -d 2", "dilation 2 = a 5×5 kernel with zeros between "
              "the taps"),),
    "E15": (P("stack --layers 3:1:2,3:1:2,3:1:2", "rates 2, 2, 2 (common factor 2): every "
              "other input is never read, the gridding"),
            P("stack --layers 3:1:1,3:1:2,3:1:3", "rates 1, 2, 3 (HDC): no holes")),
    "F2": (P("conv_transpose --input 3x3 -k 3",
             "∂f/∂X: ∂f/∂Y full-padded by m - 1 and correlated with rot180(W)"),),
    "F6": (P("max_pool --input 4x4 -k 2", "each window sends its δ back to its own cells: "
             "the arg-max for max pooling, a quarter each for average pooling"),),
    "F9": (P("conv_transpose --input 3x3 -k 3 -s 2 -p 1",
             "fractionally strided: one zero between inputs; the transpose of a stride-2 "
             "convolution 5×5 → 3×3"),),
    "G1": (P("max_pool --input 4x4 -k 2 --gif --dpi 64", "each output is the max (or mean) of its "
             "window R", "gif"),),
    "G2": (P("max_pool --input 5x5 -k 3 -s 2", "F=3, S=2: neighbouring windows share a row "
             "and a column"),
           P("max_pool --input 5x5 -k 2 --ceil-mode", "ceil_mode: the last window overhangs "
             "the input (red), so 5 gives 3 windows instead of 2")),
}
