import Kernels
import Operators
import Tensors

/// A fast kernel: concrete attributes and inputs to outputs (in the node's declared dtypes).
public typealias FastKernel = @Sendable (Attributes, [FastTensor]) -> [FastTensor]

/// The fast backend's kernels by operator id. Each family file contributes one table.
public enum FastKernels {
  public static let table: [OperatorSpec.ID: FastKernel] = {
    var t: [OperatorSpec.ID: FastKernel] = [:]
    for part in [elementwise, linear, layout, fused] {
      t.merge(part) { a, _ in a }
    }
    return t
  }()
}
