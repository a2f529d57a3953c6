import Kernels
import Operators
import Tensors

extension FastKernels {
  static let fused: [OperatorSpec.ID: FastKernel] = [:]
}
