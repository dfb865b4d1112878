"""One worked example per inventory ID, run by every build of the site (see :mod:`.run`).

Each is plain Python against the public API (``convspec``, ``convspec.reference``); the site
shows it as a ``>>>`` session with the outputs the build computed.
"""

from __future__ import annotations

X = "import numpy as np\nfrom convspec import reference as ref\n"

EXAMPLES: dict[str, str] = {
    # -- A -------------------------------------------------------------------------------------
    "A1": X + """
x, w = np.array([1., 2., 3., 4.]), np.array([1., 0., -1.])
ref.convolve(w, x)                     # y_t = sum_k w_k x_(t-k+1), the valid part
""",
    "A2": X + """
x, w = np.arange(16.).reshape(4, 4), np.array([[1., 2.], [3., 4.]])
ref.convolve(w, x)
""",
    "A3": X + """
x, w = np.arange(16.).reshape(4, 4), np.array([[1., 2.], [3., 4.]])
ref.correlate(w, x)                    # y_ij = sum_uv w_uv x_(i+u-1, j+v-1)
""",
    "A4": X + """
x, w = np.arange(16.).reshape(4, 4), np.array([[1., 2.], [3., 4.]])
np.array_equal(ref.convolve(w, x), ref.correlate(ref.rot180(w), x))
""",
    "A5": X + """
x, w = np.array([1., 2., 3.]), np.array([1., -1.])
ref.convolve(w, x, mode="full"), ref.convolve(x, w, mode="full")   # full: commutes
""",
    "A6": X + """
x, w = np.arange(5.).reshape(1, 1, 5), np.array([[[1., 2., 3.]]])
ref.conv(x, w)                                          # what a library calls conv
ref.correlate(w[0, 0], x[0, 0])
""",
    "A7": X + """
x = np.ones((1, 1, 3, 4, 4))                           # (N, C, D, H, W)
w = np.ones((2, 1, 2, 2, 2))
ref.conv(x, w).shape
""",
    "A8": """
import numpy as np
t = np.linspace(0, 1, 2001)
dt = t[1] - t[0]
x, w = np.sin(3 * t), np.exp(-5 * t)
s_riemann = np.convolve(x, w)[1000] * dt                # the sampled sum at t = 0.5
s_integral = np.trapezoid(x[:1001] * w[1000::-1], dx=dt)
round(float(s_riemann), 3), round(float(s_integral), 3)
""",
    # -- B -------------------------------------------------------------------------------------
    "B1": """
import convspec as cs
cs.conv_output_size(5, 3, stride=2, padding=1)          # (5 - 3 + 2)/2 + 1
cs.conv_output_size(10, 3, stride=2)                    # 4.5, floored as libraries do
try:
    cs.conv_output_size(10, 3, stride=2, rounding="exact")
except cs.GeometryError as error:
    print(error)
""",
    "B2": """
import convspec as cs
cs.narrow_output_size(7, 3)                             # n - m + 1
""",
    "B3": """
import convspec as cs
cs.wide_padding(3), cs.wide_output_size(7, 3), cs.full_padded_size((5, 6), (3, 2))
""",
    "B4": """
import convspec as cs
cs.same_padding(7, 3)                                   # (m - 1)/2 on each side
cs.same_padding(7, 4, convention="tf"), cs.same_padding(7, 4, convention="onnx_lower")
""",
    "B5": """
import convspec as cs
[cs.size_after_layers(32, 3, 4, mode=mode) for mode in ("valid", "full", "same")]
""",
    "B6": """
import convspec as cs
cs.conv_output_size(227, 11, stride=4), 55 * 55         # AlexNet conv1
cs.conv_output_size(5, 3, stride=2, padding=1)          # the demo W=5, F=3, S=2, P=1
""",
    "B7": """
import convspec as cs
[cs.effective_kernel_size(3, d) for d in (1, 2, 3)]    # m + (m - 1)(d - 1)
from convspec.spec.errata import erratum
erratum("B7").check().literal_holds                     # the notes' (d+1)xK+1 reading
""",
    "B8": X + """
x, w = np.arange(49.).reshape(1, 1, 7, 7), np.ones((1, 1, 2, 2))
y = ref.conv(x, w, dilation=2)
y[0, 0, 0, 0] == x[0, 0, 0, 0] + x[0, 0, 0, 2] + x[0, 0, 2, 0] + x[0, 0, 2, 2]
""",
    "B9": """
import convspec as cs
cs.pool_output_size(224, 2), cs.pool_output_size(55, 3, stride=2)   # tiling, overlapping
cs.PoolGeometry.make(2, ndim=2).output_shape((1, 64, 224, 224))      # depth unchanged
""",
    "B10": """
import convspec as cs
cs.transposed_output_size(3, 3, stride=2)               # s(l - 1) + m
cs.transposed_output_size(4, 4, stride=2, padding=1)    # (l-1)s - 2p + d(m-1) + op + 1
cs.zero_inserted_size(3, 2)                             # s - 1 zeros between inputs
""",
    "B11": """
import convspec as cs
cs.im2col_shapes((1, 3, 227, 227), 96, 11, stride=4)
""",
    "B12": """
import convspec as cs
cs.downsampled_size(224), cs.downsampled_size(384), cs.score_map_size(384)
""",
    "B13": """
import convspec as cs
cs.deformable_offset_shape((32, 64, 28, 28), 3, padding=1)
""",
    "B14": """
import convspec as cs
cs.ConvGeometry.make(64, 128, 3, groups=4, ndim=2).weight_shape   # (C_out, C_in/G, kh, kw)
""",
    # -- C -------------------------------------------------------------------------------------
    "C1": """
import convspec as cs
cs.conv_params(3, 1, 5, ndim=2), cs.conv_params(3, 96, 11, ndim=2)   # 75+1; AlexNet conv1
""",
    "C2": """
import convspec as cs
table = [[1, 1, 0], [0, 1, 1]]                          # output p reads input d where 1
cs.connection_table_params(table, (3, 3))               # K·m·n + P with K = 4
""",
    "C3": """
import convspec as cs
cs.conv_params(3, 96, 11, ndim=2, bias=False), cs.conv_macs((1, 3, 227, 227), 96, 11, stride=4)
""",
    "C4": """
import convspec as cs
cs.conv_params(64, 128, 3, groups=4, ndim=2, bias=False)   # G·k·k·(C_I/G)·(C_O/G)
cs.conv_macs((1, 64, 56, 56), 128, 3, padding=1, groups=4)
""",
    "C5": """
import convspec as cs
cs.asymmetric_factorization_params(7, 64)               # n x n against 1 x n plus n x 1
""",
    "C6": """
import convspec as cs
cs.bottleneck_params(256, 256, 3)
""",
    "C7": """
import convspec as cs
cs.stacked_kernel_layers(5, 3), cs.stacked_kernel_params(5, 3)   # two 3x3 for one 5x5
from convspec.spec.errata import erratum
check = erratum("C7").check()
check.literal_holds, check.corrected_holds
""",
    "C8": """
import convspec as cs
cs.depthwise_separable_params(32, 64, 3)
""",
    "C9": """
import convspec as cs
cs.spatially_separable_counts(3, (1, 1, 5, 5))
""",
    "C10": """
import convspec as cs
cs.locally_connected_params((1, 3, 8, 8), 16, 3), cs.tiled_conv_params(3, 16, 3, 4)
""",
    "C11": """
import convspec as cs
f"{cs.model_params('alexnet'):,}", f"{cs.model_params('vgg16'):,}"
""",
    "C12": """
import convspec as cs
cs.receptive_field([(3, 1, 1, 1), (3, 1, 1, 1)])        # (kernel, stride, padding, dilation)
cs.receptive_field([(3, 1, 1, 1), (3, 1, 2, 2)])        # dilation grows it faster
""",
    "C13": """
import convspec as cs
cs.trainable_pool_params(6)                             # a weight and a bias per map
""",
    # -- D -------------------------------------------------------------------------------------
    "D1": X + """
w = np.array([1., 2., 3.])
ref.toeplitz_matrix(w, 4)                               # each row the previous shifted
""",
    "D2": X + """
w, x = np.array([1., 2., 3.]), np.array([1., 0., 2., 1.])
np.allclose(ref.circulant_convolve(w, x), np.convolve(w, x))      # L = M + N - 1
ref.circulant_matrix(w, 6)[:3]
""",
    "D3": X + """
import convspec as cs
k, image = np.array([[1., 2.], [3., 4.]]), np.arange(9.).reshape(3, 3)
cs.doubly_block_circulant_shape((3, 3), (2, 2))
np.allclose(ref.block_circulant_convolve(k, image), ref.convolve(k, image, mode="full"))
""",
    "D4": X + """
x, w = np.random.default_rng(0).normal(size=(1, 3, 6, 6)), np.ones((4, 3, 3, 3))
np.allclose(ref.im2col_conv(x, w), ref.conv(x, w))
""",
    "D5": """
import convspec as cs
g = cs.ConvGeometry.make(1, 1, 3, ndim=2)
cs.conv_as_fc(g, (5, 5))                                # sparse, tied weights
""",
    "D6": """
import convspec as cs
cs.fc_as_conv((1, 512, 7, 7), 4096).describe()          # F = 7, P = 0, K = 4096
""",
    "D7": """
import convspec as cs
cs.score_map_size(384)                                  # 6x6 positions, stride 32
""",
    "D8": X + """
import convspec as cs
cs.transposed_matrix_shapes(5, 3)                       # C is 3 x 5; C^T maps 3 to 5
z, w = np.array([[[1., 2., 3.]]]), np.array([[[1., 10., 100.]]])
ref.conv_transpose(z, w)
""",
    # -- E -------------------------------------------------------------------------------------
    "E1": X + """
w, x = np.array([1., 2.]), np.array([1., 0., 3.])
ref.wide_correlate(w, x), ref.correlate(w, np.pad(x, 1))          # W ~(x) X = W (x) X~
""",
    "E2": """
from convspec.spec.errata import erratum
check = erratum("E2").check()
check.literal_holds, check.corrected_holds
""",
    "E3": X + """
x, w = np.random.default_rng(1).normal(size=(1, 1, 12)), np.ones((1, 1, 3))
y = ref.conv(x, w)
y_shifted = ref.conv(np.roll(x, 2, axis=-1), w)
np.allclose(y_shifted[..., 4:], y[..., 2:-2])           # shift, then conv = conv, then shift
""",
    "E4": X + """
rng = np.random.default_rng(2)
x1, x2, w = rng.normal(size=(1, 1, 6)), rng.normal(size=(1, 1, 6)), rng.normal(size=(1, 1, 3))
f = lambda x: ref.conv(x, w)
np.allclose(f(2 * x1 + 3 * x2), 2 * f(x1) + 3 * f(x2))
""",
    "E5": """
import convspec as cs
g = cs.ConvGeometry.make(1, 1, 3, stride=2, ndim=2)
g.input_positions((1, 2), (7, 7))                       # rows 2..4, columns 4..6 only
""",
    "E6": X + """
rng = np.random.default_rng(3)
x, w, dy = rng.normal(size=(1, 1, 5)), rng.normal(size=(1, 1, 2)), rng.normal(size=(1, 1, 4))
dx, dw, db = ref.conv_vjp(x, w, None, dy)
per_position = [dy[0, 0, t] * x[0, 0, t:t + 2] for t in range(4)]
np.allclose(dw[0, 0], np.sum(per_position, axis=0))
""",
    "E7": X + """
x = np.random.default_rng(4).normal(size=(1, 1, 8, 8))
pooled = lambda a: a.mean(axis=(2, 3))                  # global average pooling
np.allclose(pooled(x), pooled(np.roll(x, (3, 5), axis=(2, 3))))
""",
    "E8": X + """
x, w = np.random.default_rng(5).normal(size=(1, 3, 4, 4)), np.ones((2, 3, 1, 1))
np.allclose(ref.pointwise_conv(x, w), np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x))
""",
    "E9": X + """
x, w = np.random.default_rng(6).normal(size=(1, 4, 5, 5)), np.ones((6, 2, 3, 3))
halves = [ref.conv(x[:, 2 * g:2 * g + 2], w[3 * g:3 * g + 3]) for g in range(2)]
np.allclose(ref.conv(x, w, groups=2), np.concatenate(halves, axis=1))
""",
    "E10": """
import convspec as cs
cs.ConvGeometry.make(32, 32, 3, groups=32, ndim=2).weight_shape   # depthwise: G = C_in
cs.depthwise_separable_macs((1, 32, 56, 56), 64, 3, padding=1)
""",
    "E11": X + """
col, row = np.array([1., 2., 1.]), np.array([1., 0., -1.])
ref.outer_kernel([col, row])                            # the rank-1 (Sobel) kernel
""",
    "E12": """
import convspec as cs
cs.receptive_field([(1, 1, 0, 1), (7, 1, 3, 1)]).size   # 1x7 then 7x1: 7 on each axis
""",
    "E13": X + """
a, b, x = np.array([1., 2.]), np.array([1., 1., 1.]), np.arange(8.)
np.allclose(ref.convolve(b, ref.convolve(a, x)), ref.convolve(np.convolve(a, b), x))
len(np.convolve(a, b))                                  # 2 + 3 - 1: C7's k - 1 = (k'-1) sums
""",
    "E14": X + """
w = np.arange(1., 10.).reshape(1, 1, 3, 3)
ref.dilate_kernel(w, (2, 2))[0, 0]                      # zeros inserted: size m' = 5
""",
    "E15": """
import convspec as cs
cs.has_gridding(cs.dilated_stack([2, 2, 2])), cs.missing_offsets(cs.dilated_stack([2, 2, 2]))
cs.has_gridding(cs.dilated_stack([1, 2, 5])), cs.hdc_violations([1, 2, 5])
""",
    "E16": X + """
x = np.ones((1, 8, 6, 6))
branches = [ref.conv(x, np.ones((c, 8, k, k)), padding=k // 2) for c, k in ((4, 1), (6, 3), (2, 5))]
np.concatenate(branches, axis=1).shape                  # channels add up: 4 + 6 + 2
""",
    "E17": X + """
x = np.arange(6.).reshape(1, 6, 1, 1)
ref.channel_shuffle(x, 2)[0, :, 0, 0]                   # 2 groups of 3, interleaved
""",
    "E18": X + """
rng = np.random.default_rng(7)
x = rng.normal(size=(1, 4, 5, 5))
w1, b1, w2, b2 = rng.normal(size=(2, 4)), np.zeros(2), rng.normal(size=(4, 2)), np.zeros(4)
ref.squeeze_excitation(x, w1, b1, w2, b2).shape         # channels reweighted
""",
    "E19": X + """
x = np.array([1., -2., 3.])
ref.residual_unit(x, lambda a: 0.5 * a)                 # h(x) = x + f(x)
""",
    "E20": X + """
x, w, b = np.ones((1, 2, 3, 3)), np.ones((1, 2, 2, 2)), np.array([0.5])
ref.conv_layer(x, w, b, activation=ref.relu)            # Z = sum_d W ⊗ X^d + b, Y = f(Z)
""",
    "E21": X + """
x, w = np.ones((1, 2, 4)), np.ones((2, 2, 3))
table = np.array([[True, False], [True, True]])         # output 0 reads input 0 only
ref.connection_table_conv(x, w, None, table)
""",
    "E22": X + """
x, w = np.random.default_rng(8).normal(size=(1, 2, 6)), np.ones((3, 2, 3))
np.allclose(ref.tiled_conv(x, w[None]), ref.conv(x, w))   # t = 1 tile
""",
    "E23": X + """
x, w = np.random.default_rng(9).normal(size=(1, 1, 5, 5)), np.ones((1, 1, 3, 3))
offsets = np.zeros((1, 18, 3, 3))
np.allclose(ref.deformable_conv(x, offsets, w), ref.conv(x, w))
""",
    # -- F -------------------------------------------------------------------------------------
    "F1": X + """
rng = np.random.default_rng(10)
x, w, dy = rng.normal(size=(1, 1, 6)), rng.normal(size=(1, 1, 3)), rng.normal(size=(1, 1, 4))
dx, dw, db = ref.conv_vjp(x, w, None, dy)
np.allclose(dw[0, 0], ref.correlate(dy[0, 0], x[0, 0]))    # dW = dY ⊗ X
""",
    "F2": X + """
rng = np.random.default_rng(11)
x, w, dy = rng.normal(size=(1, 1, 6)), rng.normal(size=(1, 1, 3)), rng.normal(size=(1, 1, 4))
dx, dw, db = ref.conv_vjp(x, w, None, dy)
np.allclose(dx[0, 0], ref.wide_correlate(ref.rot180(w[0, 0]), dy[0, 0]))  # rot180(W) ~⊗ dY
""",
    "F3": X + """
x, w, dy = np.ones((1, 1, 5)), np.ones((2, 1, 3)), np.arange(6.).reshape(1, 2, 3)
ref.conv_vjp(x, w, np.zeros(2), dy)[2]                  # db_p = sum of delta over positions
""",
    "F4": X + """
rng = np.random.default_rng(12)
x, w, dy = rng.normal(size=(1, 2, 5)), rng.normal(size=(3, 2, 2)), rng.normal(size=(1, 3, 4))
dw = ref.conv_vjp(x, w, None, dy)[1]
np.allclose(dw[2, 1], ref.correlate(dy[0, 2], x[0, 1]))    # dW^(p,d) = delta^p ⊗ X^d
""",
    "F5": X + """
rng = np.random.default_rng(13)
x, w, dy = rng.normal(size=(1, 2, 5)), rng.normal(size=(3, 2, 2)), rng.normal(size=(1, 3, 4))
dx = ref.conv_vjp(x, w, None, dy)[0]
by_formula = sum(ref.wide_correlate(ref.rot180(w[p, 1]), dy[0, p]) for p in range(3))
np.allclose(dx[0, 1], by_formula)                        # sum_p rot180(W^(p,d)) ~⊗ delta^p
""",
    "F6": X + """
x, dy = np.array([[[[1., 5.], [2., 3.]]]]), np.array([[[[10.]]]])
ref.max_pool_vjp(x, dy, kernel=2)[0, 0]                 # routed to the arg-max
ref.avg_pool_vjp(x, dy, kernel=2)[0, 0]                 # spread evenly
""",
    "F7": X + """
rng = np.random.default_rng(14)
x, w, dy = rng.normal(size=(1, 1, 6)), rng.normal(size=(1, 1, 3)), rng.normal(size=(1, 1, 4))
dx = ref.conv_vjp(x, w, None, dy)[0]
np.allclose(dx[0, 0], ref.convolve(w[0, 0], dy[0, 0], mode="full"))   # flipped filter
""",
    "F8": X + """
rng = np.random.default_rng(15)
x, w, z = rng.normal(size=(1, 1, 7)), rng.normal(size=(1, 1, 3)), rng.normal(size=(1, 1, 3))
cx = ref.conv(x, w, stride=2)
ctz = ref.conv_transpose(z, w, stride=2)
np.isclose(np.vdot(cx, z), np.vdot(x, ctz))              # <Cx, z> = <x, C^T z>
""",
    "F9": X + """
z, w = np.array([[[1., 2.]]]), np.array([[[1., 1., 1.]]])
ref.zero_insert(z, (2,))                                 # s - 1 zeros inserted
ref.conv_transpose(z, w, stride=2)
""",
    # -- G -------------------------------------------------------------------------------------
    "G1": X + """
x = np.arange(16.).reshape(1, 1, 4, 4)
ref.max_pool(x, kernel=2)[0, 0], ref.avg_pool(x, kernel=2)[0, 0]   # stride = kernel
""",
    "G2": """
import convspec as cs
tiling, overlapping = cs.PoolGeometry.make(2, ndim=2), cs.PoolGeometry.make(3, stride=2, ndim=2)
tiling.overlapping, overlapping.overlapping, overlapping.windows_per_input
""",
    "G3": X + """
x = np.array([[[[3., 4.], [0., 0.]]]])
ref.l2_pool(x, kernel=(2, 2))                            # sqrt(sum of squares)
""",
    "G4": X + """
x = np.arange(32.).reshape(1, 2, 4, 4)
np.array_equal(ref.max_pool(x, kernel=2)[:, 1:], ref.max_pool(x[:, 1:], kernel=2))   # per slice
""",
    "G5": X + """
x = np.ones((1, 2, 4, 4))
ref.trainable_pool(x, np.array([0.5, 2.]), np.array([0., 1.]), kernel=(2, 2))[0, :, 0, 0]
""",
    "G6": X + """
x = np.arange(16.).reshape(1, 1, 4, 4)
w = np.full((1, 1, 2, 2), 0.25)
conv = ref.conv(x, w, stride=2)
pool = ref.avg_pool(x, kernel=2)
np.allclose(conv, pool)                                  # a strided conv can do the pooling
""",
    # -- H -------------------------------------------------------------------------------------
    "H1": """
import convspec as cs
cs.momentum_step(1.0, 0.0, 2.0, lr=0.1, beta=0.9)       # (theta_t, d_t)
""",
    "H2": """
import numpy as np
import convspec as cs
grad = lambda theta: 2 * theta                           # the gradient of theta^2
a = cs.momentum_trajectory(grad, 1.0, 5, lr=0.1, beta=0.9)
b = cs.momentum_trajectory(grad, 1.0, 5, lr=0.1, beta=0.9, form="delta")
np.allclose(a, b)
""",
    "H3": """
import numpy as np
import convspec as cs
x = np.ones(4)
cs.dropout_expectation(x, 0.8), cs.dropout_expectation(x, 0.8, inverted=True)
""",
    "H4": """
import convspec as cs
cs.relu([-2., 0., 3.]), cs.leaky_relu([-2., 0., 3.], 0.1)
""",
    "H5": """
import convspec as cs
p = cs.softmax([1., 2., 3.])
p, round(float(p.sum()), 12)
""",
}
