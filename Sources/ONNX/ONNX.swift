import IR
import SwiftProtobuf
import Tensors

/// The ONNX bridge: export to and import from ONNX protobuf, and NPY/NPZ tensors.
public enum ONNX {
  /// ONNX `TensorProto.DataType` codes of our dtypes.
  public static func elementType(_ d: DType) -> Int32 {
    switch d {
    case .f32: return 1
    case .u8: return 2
    case .i8: return 3
    case .i32: return 6
    case .i64: return 7
    case .bool: return 9
    case .f16: return 10
    case .f64: return 11
    case .bf16: return 16
    }
  }

  public static func dtype(elementType t: Int32) -> DType? {
    DType.allCases.first { elementType($0) == t }
  }
}
