import Backends
import IR
import Kernels
import Operators
import Tensors

/// Post-training quantization of a generated float graph into an int8/uint8 model, the way real
/// toolchains make them: run the float graph on calibration inputs, choose every activation's
/// scale and zero point from its observed range (so outputs use the integer range instead of
/// saturating), quantize weights symmetrically per tensor or per output channel (8 or 4 bits), and
/// replace each operator that has a quantized form by it. Operators without one stay float between
/// a `dequantize_linear` and a `quantize_linear` (a mixed model). Graph outputs are the quantized
/// tensors where they exist, so low-bit backends are compared bit for bit.
///
/// All choices (activation dtype, per-channel or not, 4-bit weights, the requantization variant of
/// each node, biases) come from the seeded PRNG: the same float graph and seed give the same model.
public struct Quantizer {
  /// Probability that a node with a quantized form is converted (1 for `--kind int8`).
  public var conversionRate = 1.0
  /// Requantization variants to draw from, one per node.
  public var variants: [RequantVariant] = RequantVariant.allCases
  /// Probability that a model uses power-of-two scales only.
  public var powerOfTwoRate = 0.3

  public init() {}

  /// The float operators this pass knows how to quantize.
  public static let quantizable = [
    "conv2d", "matmul", "gemm", "add", "mul", "relu", "clip", "max_pool2d", "avg_pool2d", "reshape",
    "flatten", "transpose", "concat",
  ]

  /// Whether gemm's C of `shape` is one value per output column (or one for all): a bias QGemm
  /// takes. A C with several rows is not.
  static func isColumnBias(_ shape: [Int], columns: Int) -> Bool {
    shape.dropLast().allSatisfy { $0 == 1 } && [1, columns].contains(shape.last ?? 1)
  }

  /// Activation parameters of one value: scale (f32-representable) and zero point.
  struct Params: Equatable {
    var scale: Double
    var zero: Int
  }

  /// Quantizes `graph` (f32); `nil` if calibration fails (a non-finite value).
  public func quantize(_ graph: Graph, seed: UInt64) -> Graph? {
    var rng = SplitMix64(seed: seed)
    guard
      let values = try? ReferenceBackend().run(graph, inputs: graph.sampleInputs(seed: seed), keepAll: true)
        .values
    else { return nil }
    guard values.values.allSatisfy({ $0.storage.allSatisfy(\.isFinite) }) else { return nil }
    let qtype: DType = rng.chance(0.5) ? .i8 : .u8
    // Power-of-two scales (as many accelerators use) make every real multiplier a power of two, so
    // exact .5 ties before rounding are common: the divergence seed for rounding-mode bugs.
    let powerOfTwo = rng.chance(powerOfTwoRate)
    func scaled(_ x: Double) -> Double {
      guard powerOfTwo else { return DType.f32.rounded(x) }
      return Double(sign: .plus, exponent: x.significand == 1 ? x.exponent : x.exponent + 1, significand: 1)
    }
    let (qmin, qmax) = QuantizedOps.bounds(qtype)
    let constantIDs = Set(graph.constants.map(\.id))

    var b = GraphBuilder()
    var floatValue: [ValueID: ValueID] = [:]  // old id -> new float id
    var quantValue: [ValueID: ValueID] = [:]  // old id -> new quantized id
    var params: [ValueID: Params] = [:]  // old id -> its quantization
    var paramConstants: [String: (ValueID, ValueID)] = [:]  // shared (scale, zero) constants

    for i in graph.inputs { floatValue[i.id] = b.input(i.type.shape, i.type.dtype, range: i.range) }
    for c in graph.constants {
      floatValue[c.id] = b.constant(c.type.shape, c.type.dtype, seed: c.seed, range: c.range, data: c.data)
    }

    /// Calibrated parameters for an old value: the observed range widened to contain 0.
    func calibrated(_ v: ValueID) -> Params {
      if let p = params[v] { return p }
      let data = values[v]!.storage
      let lo = Swift.min(0, data.min() ?? 0)
      let hi = Swift.max(0, data.max() ?? 0)
      var scale = scaled((hi - lo) / Double(qmax - qmin))
      if !(scale > 0x1p-10) { scale = 0x1p-10 }
      let zero = Swift.min(Swift.max(Int((Double(qmin) - lo / scale).rounded()), Int(qmin)), Int(qmax))
      let p = Params(scale: scale, zero: zero)
      params[v] = p
      return p
    }
    /// The shared scale and zero-point constants of a parameter pair.
    func constants(_ p: Params) -> (ValueID, ValueID) {
      let key = "\(p.scale.bitPattern)/\(p.zero)"
      if let c = paramConstants[key] { return c }
      let s = b.constant([], .f32, data: [p.scale])
      let z = b.constant([], qtype, data: [Double(p.zero)])
      paramConstants[key] = (s, z)
      return (s, z)
    }
    func quantized(_ v: ValueID) -> ValueID {
      if let q = quantValue[v] { return q }
      let (s, z) = constants(calibrated(v))
      let q = b(
        "quantize_linear", floatValue[v]!, s, z, attributes: ["axis": .int(0), "requant": .string("onnx")])
      quantValue[v] = q
      return q
    }
    func float(_ v: ValueID) -> ValueID {
      if let f = floatValue[v] { return f }
      let (s, z) = constants(params[v]!)
      let f = b("dequantize_linear", quantValue[v]!, s, z, attributes: ["axis": .int(0)])
      floatValue[v] = f
      return f
    }
    func variant() -> AttributeValue { .string(rng.pick(variants).rawValue) }
    /// Symmetric weights of `factor · v`: per output channel along `axis` (or per tensor), `bits`
    /// wide.
    func weights(_ v: ValueID, axis: Int, bits: Int, factor: Double = 1) -> (
      w: ValueID, s: ValueID, z: ValueID, scales: [Double]
    ) {
      var t = values[v]!
      if factor != 1 { t.storage = t.storage.map { $0 * factor } }
      let perChannel = rng.chance(0.5)
      let channels = perChannel ? t.shape[axis] : 1
      let inner = perChannel ? t.shape[(axis + 1)...].reduce(1, *) : t.count
      let limit = Double(QuantizedOps.weightBounds(bits: bits).max)
      var scales = [Double](repeating: 1, count: channels)
      for c in 0..<channels {
        var m = 0.0
        for i in 0..<t.count where (i / inner) % channels == c { m = Swift.max(m, abs(t.storage[i])) }
        scales[c] = scaled(Swift.max(m / limit, 0x1p-12))
      }
      let q = (0..<t.count).map { i -> Double in
        let s = scales[(i / inner) % channels]
        return Swift.min(
          Swift.max((t.storage[i] / s).rounded(.toNearestOrEven), -limit - (bits == 4 ? 1 : 0)), limit)
      }
      let w = b.constant(t.shape, .i8, data: q)
      let shape = perChannel ? [channels] : []
      let s = b.constant(shape, .f32, data: scales)
      let z = b.constant(shape, .i8, data: [Double](repeating: 0, count: channels))
      return (w, s, z, scales)
    }
    /// A computed value quantized as an int8 weight operand: zero point 0, one scale from its
    /// largest observed magnitude, then clipped to the symmetric range −127…127 (an input beyond
    /// the calibrated range saturates to −128, which weight operands never hold).
    func symmetricActivation(_ v: ValueID) -> (w: ValueID, s: ValueID, z: ValueID, scales: [Double]) {
      let m = values[v]!.storage.map { abs($0) }.max() ?? 0
      let scale = scaled(Swift.max(m / 127, 0x1p-12))
      let s = b.constant([], .f32, data: [scale])
      let z = b.constant([], .i8, data: [0])
      let q = b("quantize_linear", float(v), s, z, attributes: ["axis": .int(0), "requant": .string("onnx")])
      let w = b("qclip", q, b.constant([], .i8, data: [-127]), b.constant([], .i8, data: [127]))
      return (w, s, z, [scale])
    }
    /// An int32 bias of scale `inScale * wScale[o]` holding the real bias `real[o]`.
    func bias(_ real: [Double], inScale: Double, wScales: [Double]) -> ValueID {
      let data = real.enumerated().map { o, r -> Double in
        let q = (r / (inScale * wScales[wScales.count == 1 ? 0 : o])).rounded(.toNearestOrEven)
        return Swift.min(Swift.max(q, -1e9), 1e9)
      }
      return b.constant([real.count], .i32, data: data)
    }

    for node in graph.nodes {
      let out = node.outputs[0]
      let isConstant = { (v: ValueID) in constantIDs.contains(v) }
      // Only f32 tensors of rank >= 1 are quantized (scalars and other dtypes stay as they are);
      // gemm's C becomes an int32 bias, so it may be a scalar.
      let ranked = (node.inputs + node.outputs).allSatisfy {
        graph.types[$0]?.dtype == .f32
          && ((graph.types[$0]?.shape.count ?? 0) >= 1 || (node.op == "gemm" && $0 == node.inputs[2]))
      }
      let convert = ranked && Quantizer.quantizable.contains(node.op) && rng.chance(conversionRate)
      let a = node.attributes
      var done = false
      if convert {
        switch node.op {
        case "conv2d" where isConstant(node.inputs[1]) && node.types[0].shape.count == 4:
          let x = node.inputs[0]
          let bits = rng.chance(0.25) ? 4 : 8
          let (w, ws, wz, scales) = weights(node.inputs[1], axis: 0, bits: bits)
          let (xs, xz) = constants(calibrated(x))
          let (ys, yz) = constants(calibrated(out))
          // A small real bias (a tenth of the output's observed range) exercises the int32 bias path.
          let span = calibrated(out).scale * Double(qmax - qmin)
          let real = (0..<node.types[0].shape[1]).map { _ in (rng.unit() - 0.5) * 0.1 * span }
          let bv = bias(real, inScale: calibrated(x).scale, wScales: scales)
          quantValue[out] =
            b.node(
              "qlinear_conv2d", [quantized(x), xs, xz, w, ws, wz, ys, yz, bv],
              [
                "strides": a["strides"]!, "pads": a["pads"]!, "dilations": a["dilations"]!,
                "group": a["group"]!,
                "weight_bits": .string(String(bits)), "requant": variant(),
              ])[0]
          done = true
        case "matmul"
        where (2...3).contains(graph.types[node.inputs[0]]!.shape.count)
          && graph.types[node.inputs[1]]!.shape.count == 2:
          // A generated matmul's right operand is an activation, not a constant: it is quantized
          // like a weight (int8, symmetric, per tensor, from its observed range) by a
          // quantize_linear in the graph.
          let x = node.inputs[0]
          let (w, ws, wz, _) =
            isConstant(node.inputs[1])
            ? weights(node.inputs[1], axis: 1, bits: 8) : symmetricActivation(node.inputs[1])
          let (xs, xz) = constants(calibrated(x))
          let (ys, yz) = constants(calibrated(out))
          quantValue[out] =
            b.node(
              "qlinear_matmul", [quantized(x), xs, xz, w, ws, wz, ys, yz], ["requant": variant()])[0]
          done = true
        case "gemm"
        where isConstant(node.inputs[1]) && isConstant(node.inputs[2])
          && Quantizer.isColumnBias(graph.types[node.inputs[2]]!.shape, columns: node.types[0].shape[1]):
          // QGemm has alpha = 1 and no trans_a, as converters produce it: alpha is folded into the
          // weights (alpha · A'B' = A'(alpha · B'), quantized symmetrically, so a negative alpha
          // flips their signs), and a transposed A is an int8 transpose (same parameters) first.
          let x = node.inputs[0]
          let tb = a.int("trans_b") == 1
          let (w, ws, wz, scales) = weights(
            node.inputs[1], axis: tb ? 0 : 1, bits: 8, factor: a.float("alpha"))
          let (xs, xz) = constants(calibrated(x))
          var qx = quantized(x)
          if a.int("trans_a") == 1 { qx = b.node("transpose", [qx], ["perm": .ints([1, 0])])[0] }
          let (ys, yz) = constants(calibrated(out))
          let c = values[node.inputs[2]]!.storage
          let n = node.types[0].shape[1]
          let real = (0..<n).map { a.float("beta") * c[c.count == 1 ? 0 : $0] }
          let bv = bias(real, inScale: calibrated(x).scale, wScales: scales)
          quantValue[out] =
            b.node(
              "qgemm", [qx, xs, xz, w, ws, wz, bv, ys, yz],
              ["trans_b": .int(tb ? 1 : 0), "requant": variant()])[0]
          done = true
        case "add", "mul":
          var (l, r) = (node.inputs[0], node.inputs[1])
          if graph.types[l]!.shape.count < graph.types[r]!.shape.count { swap(&l, &r) }
          let (ls, lz) = constants(calibrated(l))
          let (rs, rz) = constants(calibrated(r))
          let (ys, yz) = constants(calibrated(out))
          let inputs = [quantized(l), ls, lz, quantized(r), rs, rz, ys, yz]
          quantValue[out] =
            node.op == "add"
            ? b.node("qlinear_add", inputs)[0] : b.node("qlinear_mul", inputs, ["requant": variant()])[0]
          done = true
        case "relu", "clip":
          let x = node.inputs[0]
          let p = calibrated(x)
          params[out] = p
          func q(_ x: Double) -> Double {
            Swift.min(
              Swift.max((x / p.scale).rounded(.toNearestOrEven) + Double(p.zero), Double(qmin)), Double(qmax))
          }
          let (lo, hi) =
            node.op == "relu" ? (Double(p.zero), Double(qmax)) : (q(a.float("min")), q(a.float("max")))
          let l = b.constant([], qtype, data: [lo])
          let h = b.constant([], qtype, data: [hi])
          quantValue[out] = b("qclip", quantized(x), l, h)
          done = true
        case "max_pool2d", "reshape", "flatten", "transpose":
          // Pure data movement (or a max): the output shares the input's parameters.
          params[out] = calibrated(node.inputs[0])
          let q = quantized(node.inputs[0])
          quantValue[out] = b.node(node.op, [q], a.values)[0]
          done = true
        case "concat":
          // Both inputs are brought to the first input's parameters (requantizing the second
          // through float when they differ), then concatenated as integers.
          let p = calibrated(node.inputs[0])
          params[out] = p
          let first = quantized(node.inputs[0])
          var second = quantized(node.inputs[1])
          if calibrated(node.inputs[1]) != p {
            let (s, z) = constants(p)
            second = b(
              "quantize_linear", float(node.inputs[1]), s, z,
              attributes: ["axis": .int(0), "requant": variant()])
          }
          quantValue[out] = b.node("concat", [first, second], a.values)[0]
          done = true
        case "avg_pool2d":
          let x = node.inputs[0]
          let (xs, xz) = constants(calibrated(x))
          let (ys, yz) = constants(calibrated(out))
          quantValue[out] =
            b.node(
              "qavg_pool2d", [quantized(x), xs, xz, ys, yz],
              [
                "kernel_shape": a["kernel_shape"]!, "strides": a["strides"]!, "pads": a["pads"]!,
                "count_include_pad": a["count_include_pad"]!, "requant": variant(),
              ])[0]
          done = true
        default: break
        }
      }
      if !done {
        let outs = b.node(node.op, node.inputs.map(float), node.attributes.values)
        for (o, n) in zip(node.outputs, outs) { floatValue[o] = n }
      }
    }
    let outputs = graph.outputs.map { quantValue[$0] ?? float($0) }
    return b.build(outputs: outputs)
  }
}
