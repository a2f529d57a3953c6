import Tensors

extension Constant {
  /// The constant's values: explicit `data`, or uniform draws from `range` with `SplitMix64(seed)`.
  public var tensor: Tensor {
    if let data { return Tensor(dtype: type.dtype, shape: type.shape, storage: data) }
    var rng = SplitMix64(seed: seed)
    return sampleTensor(type.dtype, type.shape, range, &rng)
  }
}

/// Uniform values in `range`, rounded into `dtype`: floats uniform then rounded (and clamped back
/// into the range), integers uniform over the integers in the range, bools fair coin flips.
public func sampleTensor(_ dtype: DType, _ shape: [Int], _ range: Interval, _ rng: inout SplitMix64) -> Tensor
{
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
  return Tensor(dtype: dtype, shape: shape, storage: values)
}

extension Graph {
  /// Input values for one run, drawn from each input's range; the same seed gives the same values.
  public func sampleInputs(seed: UInt64) -> [Tensor] {
    let rng = SplitMix64(seed: seed)
    return inputs.map { input in
      var r = rng.derived(UInt64(truncatingIfNeeded: input.id))
      return sampleTensor(input.type.dtype, input.type.shape, input.range, &r)
    }
  }
}
