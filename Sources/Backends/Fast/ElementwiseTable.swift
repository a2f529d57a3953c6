import Kernels
import Operators
import Tensors

/// Fast kernels of the unary, binary, comparison, logical, where, cast, reduction, argmax/argmin,
/// cumsum, softmax and normalization operators. Each closure decodes the node's attributes and
/// calls a `Fast` kernel; the results have the node's declared dtypes.
extension FastKernels {
  static let elementwise: [OperatorSpec.ID: FastKernel] = {
    var t: [OperatorSpec.ID: FastKernel] = [:]

    // Unary (float32; abs, neg and sign also on integers).
    let unary: [(OperatorSpec.ID, Fast.UnaryOp)] = [
      ("relu", .relu), ("selu", .selu), ("sigmoid", .sigmoid), ("hard_sigmoid", .hardSigmoid),
      ("hard_swish", .hardSwish), ("tanh", .tanh), ("gelu", .gelu), ("erf", .erf), ("exp", .exp),
      ("log", .log), ("sqrt", .sqrt), ("reciprocal", .reciprocal), ("abs", .abs), ("neg", .neg),
      ("sin", .sin), ("cos", .cos), ("atan", .atan), ("asin", .asin), ("sinh", .sinh),
      ("floor", .floor), ("ceil", .ceil), ("round", .round), ("sign", .sign),
      ("softplus", .softplus), ("softsign", .softsign),
    ]
    for (id, op) in unary {
      t[id] = { _, x in [Fast.unary(op, x[0])] }
    }
    t["leaky_relu"] = { a, x in [Fast.unary(.leakyRelu(alpha: Float(a.float("alpha"))), x[0])] }
    t["elu"] = { a, x in [Fast.unary(.elu(alpha: Float(a.float("alpha"))), x[0])] }
    t["clip"] = { a, x in
      [Fast.unary(.clip(min: Float(a.float("min")), max: Float(a.float("max"))), x[0])]
    }

    // Binary arithmetic with broadcasting.
    let binary: [(OperatorSpec.ID, Fast.BinaryOp)] = [
      ("add", .add), ("sub", .sub), ("mul", .mul), ("div", .div), ("pow", .pow), ("min", .min),
      ("max", .max),
    ]
    for (id, op) in binary {
      t[id] = { _, x in [Fast.binary(op, x[0], x[1])] }
    }

    // Comparisons and logic (bool results).
    let comparisons: [(OperatorSpec.ID, Fast.CompareOp)] = [
      ("equal", .equal), ("less", .less), ("less_equal", .lessEqual), ("greater", .greater),
      ("greater_equal", .greaterEqual),
    ]
    for (id, op) in comparisons {
      t[id] = { _, x in [Fast.compare(op, x[0], x[1])] }
    }
    let logical: [(OperatorSpec.ID, Fast.LogicalOp)] = [
      ("logical_and", .and), ("logical_or", .or), ("logical_xor", .xor),
    ]
    for (id, op) in logical {
      t[id] = { _, x in [Fast.logical(op, x[0], x[1])] }
    }
    t["logical_not"] = { _, x in [Fast.logicalNot(x[0])] }
    t["where"] = { _, x in [Fast.select(x[0], x[1], x[2])] }
    t["cast"] = { a, x in
      guard let to = DType(rawValue: a.string("to")) else {
        preconditionFailure("cast: unknown dtype \(a.string("to"))")
      }
      return [Fast.cast(x[0], to: to)]
    }

    // Reductions.
    let reductions: [(OperatorSpec.ID, Fast.ReduceOp)] = [
      ("reduce_sum", .sum), ("reduce_mean", .mean), ("reduce_max", .max), ("reduce_min", .min),
      ("reduce_prod", .prod),
    ]
    for (id, op) in reductions {
      t[id] = { a, x in [Fast.reduce(op, x[0], axes: a.ints("axes"), keepdims: a.int("keepdims") != 0)] }
    }
    t["argmax"] = { a, x in
      [Fast.argExtreme(x[0], axis: a.int("axis"), keepdims: a.int("keepdims") != 0, largest: true)]
    }
    t["argmin"] = { a, x in
      [Fast.argExtreme(x[0], axis: a.int("axis"), keepdims: a.int("keepdims") != 0, largest: false)]
    }
    t["cumsum"] = { a, x in
      [
        Fast.cumsum(
          x[0], axis: a.int("axis"), exclusive: a.int("exclusive") != 0, reverse: a.int("reverse") != 0)
      ]
    }

    // Softmax and normalization (float32).
    for (id, log) in [("softmax", false), ("log_softmax", true)] {
      t[id] = { a, x in
        [
          FastTensor(
            floats: Fast.softmax(x[0].floats, shape: x[0].shape, axis: a.int("axis"), log: log),
            shape: x[0].shape)
        ]
      }
    }
    t["layer_norm"] = { a, x in
      [
        FastTensor(
          floats: Fast.layerNorm(
            x[0].floats, shape: x[0].shape, scale: x[1].floats, bias: x[2].floats, axis: a.int("axis"),
            epsilon: Float(a.float("epsilon"))),
          shape: x[0].shape)
      ]
    }
    t["batch_norm"] = { a, x in
      [
        FastTensor(
          floats: Fast.batchNorm(
            x[0].floats, shape: x[0].shape, scale: x[1].floats, bias: x[2].floats, mean: x[3].floats,
            variance: x[4].floats, epsilon: Float(a.float("epsilon"))),
          shape: x[0].shape)
      ]
    }
    return t
  }()
}
