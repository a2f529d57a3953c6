import Kernels
import Operators
import Tensors

extension FastKernels {
  /// Matrix products, convolutions, pooling and resize: float32 kernels (`Fast.matmul`,
  /// `Fast.conv`, ...) over sgemm and pointer loops.
  static let linear: [OperatorSpec.ID: FastKernel] = [
    "matmul": { _, t in [Fast.matmul(t[0], t[1])] },
    "gemm": { a, t in
      [
        Fast.gemm(
          t[0], t[1], t[2], alpha: Float(a.float("alpha")), beta: Float(a.float("beta")),
          transA: a.int("trans_a") == 1, transB: a.int("trans_b") == 1)
      ]
    },
    "conv1d": convolution,
    "conv2d": convolution,
    "conv_transpose2d": { a, t in
      [
        Fast.convTranspose2d(
          t[0], t[1], strides: a.ints("strides"), pads: a.ints("pads"), dilations: a.ints("dilations"),
          outputPadding: a.ints("output_padding"), group: a.int("group"))
      ]
    },
    "max_pool1d": maxPool,
    "max_pool2d": maxPool,
    "avg_pool1d": avgPool,
    "avg_pool2d": avgPool,
    "global_avg_pool": { _, t in [Fast.globalAvgPool(t[0])] },
    "resize": { a, t in [Fast.resizeNearest(t[0], sizes: a.ints("sizes"))] },
  ]

  private static let convolution: FastKernel = { a, t in
    [
      Fast.conv(
        t[0], t[1], strides: a.ints("strides"), pads: a.ints("pads"), dilations: a.ints("dilations"),
        group: a.int("group"))
    ]
  }

  private static let maxPool: FastKernel = { a, t in
    [
      Fast.maxPool(
        t[0], kernel: a.ints("kernel_shape"), strides: a.ints("strides"), pads: a.ints("pads"),
        dilations: a.ints("dilations"))
    ]
  }

  private static let avgPool: FastKernel = { a, t in
    [
      Fast.avgPool(
        t[0], kernel: a.ints("kernel_shape"), strides: a.ints("strides"), pads: a.ints("pads"),
        countIncludePad: a.int("count_include_pad") == 1)
    ]
  }
}
