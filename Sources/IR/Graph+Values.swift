import Tensors

extension Constant {
  /// The constant's values: explicit `data`, or uniform draws from `range` with `SplitMix64(seed)`.
  public var tensor: Tensor {
    if let data { return Tensor(dtype: type.dtype, shape: type.shape, storage: data) }
    var rng = SplitMix64(seed: seed)
    return sampleTensor(type.dtype, type.shape, range, &rng, edges: edges)
  }
}

/// Uniform values in `range`, rounded into `dtype`: floats uniform then rounded (and clamped back
/// into the range), integers uniform over the integers in the range, bools fair coin flips. Then
/// `edges`, if any, replaces some elements with special values, continuing `rng`.
public func sampleTensor(
  _ dtype: DType, _ shape: [Int], _ range: Interval, _ rng: inout SplitMix64, edges: EdgeValues? = nil
) -> Tensor {
  let n = shape.reduce(1, *)
  var values = [Double](repeating: 0, count: n)
  if dtype == .bool {
    for i in 0..<n { values[i] = rng.chance(0.5) ? 1 : 0 }
  } else if dtype.isInteger {
    let lo = Int(range.lo.rounded(.up))
    let hi = Swift.max(lo, Int(range.hi.rounded(.down)))
    for i in 0..<n { values[i] = Double(rng.int(in: lo...hi)) }
  } else {
    for i in 0..<n {
      let x = dtype.rounded(range.lo + (range.hi - range.lo) * rng.unit())
      values[i] = Swift.min(Swift.max(x, dtype.rounded(range.lo)), dtype.rounded(range.hi))
    }
  }
  edges?.apply(to: &values, dtype, &rng)
  return Tensor(dtype: dtype, shape: shape, storage: values)
}

extension Graph {
  /// Input values for one run, drawn from each input's range; the same seed gives the same values.
  public func sampleInputs(seed: UInt64) -> [Tensor] {
    let rng = SplitMix64(seed: seed)
    return inputs.map { input in
      var r = rng.derived(UInt64(truncatingIfNeeded: input.id))
      return sampleTensor(input.type.dtype, input.type.shape, input.range, &r, edges: input.edges)
    }
  }
}

extension Graph {
  /// Whether any input or seeded constant mixes in special values (`EdgeValues`).
  public var hasEdgeValues: Bool {
    inputs.contains { $0.edges != nil } || constants.contains { $0.edges != nil && $0.data == nil }
  }

  /// This graph with every input's and constant's special values removed.
  public var withoutEdgeValues: Graph {
    var g = self
    for i in g.inputs.indices { g.inputs[i].edges = nil }
    for i in g.constants.indices { g.constants[i].edges = nil }
    return g
  }
}
