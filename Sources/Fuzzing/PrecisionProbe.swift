import Foundation
import IR
import Operators
import Tensors

/// What precision a target really computes each float dtype in: a capability, found once per
/// target version and reported once, never as one bucket per operator.
///
/// Two models per dtype `d` with `p` bits of precision, each of exact operators only, so the right
/// answer is one bit pattern:
///
/// - **Rounding between operators** (`chain`): `(x + y) - x` with `x = 1` and `y = 2^-j` for
///   `j = p+1 ... 60`. Rounding the sum to `d` gives 0 for every `j > p` (`1 + 2^-(p+1)` is a tie to
///   even); a target that keeps the sum at `q > p` bits gives `2^-j` for `j < q`.
/// - **Precision of one operator** (`single`): `x / 3` for a few `x`. If the worst result is more
///   than two ulps of `d` away, the target computes `d` in the widest narrower format within two of
///   its ulps.
///
/// - **Split rounding** (`split`): `s - slice(unsqueeze(s))` with `s = x + y` rounding to a tie. The
///   copy is bit for bit `s`, so the answer is 0 however `s` is computed; a target that keeps `s`
///   unrounded for one consumer and rounds it for another (ONNX Runtime's CPU provider computes f16
///   operators without an f16 kernel in f32 and casts to f16 only before those with one) gives
///   `2^-(p+1)`: one value, two readings, so a comparison of a value with its own copy can be true.
///   Reported once; the oracle already judges the dtype as approximate (`chain`), and the
///   discontinuity guard moves a comparison's operands in opposite directions.
/// - **Contraction** (`fma`): `a * b + c` whose product needs more bits than `d` has; 0 when the
///   product is rounded, nonzero when the target fuses the two into one rounding.
/// - **Division** (`division`): `x / 3` not correctly rounded but within two ulps (a reciprocal
///   multiplied in).
///
/// The result maps a dtype to the format it is computed in (`[.f16: .f32]`: f16 graphs run in f32
/// without rounding between operators; `[.f64: .f32]`: f64 runs as f32), merged into
/// `BackendTarget.computedAs`, and names operators whose results are approximate on the target
/// (`BackendTarget.approximateOps`), so the oracle judges them at the precision used.
public struct PrecisionProbe: Sendable {
  public var dtypes: [DType] = [.f16, .bf16, .f32, .f64]

  public init() {}

  /// One finding of the probe.
  public struct Capability: Codable, Sendable, Hashable, CustomStringConvertible {
    public var dtype: DType
    public var computedAs: DType
    /// `chain` (no rounding between operators), `split` (a value rounded for some consumers and
    /// not for others), `single` (each operator at lower precision),
    /// `fma` (a * b + c contracted into one rounding), `division` (x / y not correctly rounded,
    /// within two ulps: a reciprocal multiplied).
    public var how: String

    /// The operators whose results in `dtype` are approximate on the target (for `fma` and
    /// `division`; the other kinds make every value of the dtype approximate).
    public var operators: [String] {
      switch how {
      case "fma": return ["add", "sub", "mul"]
      case "division": return ["div", "reciprocal"]
      default: return []
      }
    }

    public init(dtype: DType, computedAs: DType, how: String) {
      self.dtype = dtype
      self.computedAs = computedAs
      self.how = how
    }

    public var description: String {
      switch how {
      case "chain":
        return
          "computes \(dtype.rawValue) graphs in \(computedAs.rawValue) without rounding between operators"
      case "split":
        return
          "rounds \(dtype.rawValue) values for some consumers and not for others (a value and its copy can differ)"
      case "fma": return "contracts \(dtype.rawValue) a * b + c into a fused multiply-add (one rounding)"
      case "division":
        return "divides \(dtype.rawValue) approximately (not correctly rounded, within two ulps)"
      default: return "computes \(dtype.rawValue) operators at \(computedAs.rawValue) precision"
      }
    }
  }

  /// The chain model for `dtype`: inputs x (ones) and y (2^-j), output (x + y) - x.
  public static func chainModel(_ dtype: DType) -> (Graph, [Tensor])? {
    guard let p = dtype.significandBits else { return nil }
    let ys = (p + 1...60).map { Foundation.pow(2.0, -Double($0)) }
    var b = GraphBuilder()
    let x = b.input([ys.count], dtype)
    let y = b.input([ys.count], dtype)
    let s = b("add", x, y)
    let d = b("sub", s, x)
    let inputs = [
      Tensor(filled: 1, dtype: dtype, shape: [ys.count]),
      Tensor(rounding: ys, dtype: dtype, shape: [ys.count]),
    ]
    return (b.build(outputs: [d]), inputs)
  }

  /// The split-rounding model for `dtype`: s - slice(unsqueeze(s)) with s = x + y, x = 1 and
  /// y = 2^-(p+1) (a tie that rounds to 1); 0 when `s` has one value.
  public static func splitModel(_ dtype: DType) -> (Graph, [Tensor])? {
    guard let p = dtype.significandBits else { return nil }
    var b = GraphBuilder()
    let x = b.input([4], dtype)
    let y = b.input([4], dtype)
    let s = b("add", x, y)
    let u = b("unsqueeze", s, attributes: ["axis": .int(0)])
    let z = b("slice", u, attributes: ["axis": .int(0), "start": .int(0), "end": .int(1), "step": .int(1)])
    let d = b("sub", s, z)
    let inputs = [
      Tensor(filled: 1, dtype: dtype, shape: [4]),
      Tensor(filled: Foundation.pow(2.0, -Double(p + 1)), dtype: dtype, shape: [4]),
    ]
    return (b.build(outputs: [d]), inputs)
  }

  /// The single-operator model for `dtype`: x / 3.
  public static func singleModel(_ dtype: DType) -> (Graph, [Tensor]) {
    let xs = [1.0, 2, 5, 7, 10, 11, 13, 100]
    var b = GraphBuilder()
    let x = b.input([xs.count], dtype)
    let three = b.input([1], dtype)
    let q = b("div", x, three)
    return (
      b.build(outputs: [q]),
      [Tensor(rounding: xs, dtype: dtype, shape: [xs.count]), Tensor(filled: 3, dtype: dtype, shape: [1])]
    )
  }

  /// The contraction model for `dtype`: a * b + c with a = b = 1 + 2^(1-p) and c = -(1 + 2^(2-p)).
  /// Rounded after the product the result is 0; contracted into one fused multiply-add it is
  /// 2^(2-2p).
  public static func fmaModel(_ dtype: DType) -> (Graph, [Tensor])? {
    guard let p = dtype.significandBits else { return nil }
    let a = 1 + Foundation.pow(2.0, Double(1 - p))
    let c = -(1 + Foundation.pow(2.0, Double(2 - p)))
    var b = GraphBuilder()
    let x = b.input([1], dtype)
    let y = b.input([1], dtype)
    let z = b.input([1], dtype)
    let r = b("add", b("mul", x, y), z)
    return (
      b.build(outputs: [r]),
      [
        Tensor(filled: a, dtype: dtype, shape: [1]), Tensor(filled: a, dtype: dtype, shape: [1]),
        Tensor(filled: c, dtype: dtype, shape: [1]),
      ]
    )
  }

  /// The formats, narrowest first, that a result can be read as.
  static let formats: [DType] = [.bf16, .f16, .f32, .f64]

  /// Interprets the target's outputs of the two models (nil: the model did not run).
  public static func interpret(
    dtype: DType, chain: [Double]?, single: [Double]?, fma: [Double]? = nil, split: [Double]? = nil
  ) -> [Capability] {
    if let c = interpretPrecision(dtype: dtype, chain: chain, single: single) {
      // A value with two readings only shows where operators are not rounded (`chain`).
      if c.how == "chain", let split, split.contains(where: { $0 != 0 }) {
        return [c, Capability(dtype: dtype, computedAs: c.computedAs, how: "split")]
      }
      return [c]
    }
    var found: [Capability] = []
    guard let p = dtype.significandBits else { return [] }
    if let single {
      let exact = singleModel(dtype).1[0].storage.map { $0 / 3 }
      if single != exact.map(dtype.rounded) {
        found.append(Capability(dtype: dtype, computedAs: dtype, how: "division"))
      }
    }
    if let fma, fma.first.map({ $0 != 0 && $0.isFinite }) == true, p > 0 {
      found.append(Capability(dtype: dtype, computedAs: dtype, how: "fma"))
    }
    return found
  }

  /// A dtype computed in another format (`chain` or `single`), if the results show one.
  static func interpretPrecision(dtype: DType, chain: [Double]?, single: [Double]?) -> Capability? {
    guard let p = dtype.significandBits else { return nil }
    if let single {
      let (_, inputs) = singleModel(dtype)
      let exact = inputs[0].storage.map { $0 / 3 }
      // Relative error of the worst result: a correctly rounded one is within 2^-p. One beyond two
      // ulps of `dtype` was computed in a narrower format: the widest whose two ulps cover it (a
      // target may also divide by multiplying with the reciprocal there, so not only roundings).
      var err = 0.0
      for (r, e) in zip(single, exact) { err = Swift.max(err, r.isFinite ? Swift.abs(r - e) / e : .infinity) }
      if err > Foundation.pow(2.0, Double(1 - p)) {
        let narrower = formats.filter { ($0.significandBits ?? 0) < p }.reversed()
        if let f = narrower.first(where: { err <= Foundation.pow(2.0, Double(2 - ($0.significandBits ?? 0))) }
        ) {
          return Capability(dtype: dtype, computedAs: f, how: "single")
        }
      }
    }
    if let chain {
      // Bits kept between the operators: 2^-j survives for j < q.
      var q = p
      for (k, v) in chain.enumerated() where v != 0 { q = Swift.max(q, p + 1 + k + 1) }
      if q > p {
        let f = formats.first { ($0.significandBits ?? 0) >= q } ?? .f64
        return Capability(dtype: dtype, computedAs: f, how: "chain")
      }
    }
    return nil
  }

  /// Probes `target` in `worker`; unsupported dtypes (the worker declines them) are skipped.
  public func run(_ target: BackendTarget, worker: WorkerProcess) -> [Capability] {
    var found: [Capability] = []
    for d in dtypes {
      func outputs(_ m: (Graph, [Tensor])) -> [Double]? {
        if case .outputs(let ts) = target.run(on: worker, graph: m.0, model: m.0.encoded(), inputs: m.1),
          ts.count == 1
        {
          return ts[0].storage
        }
        return nil
      }
      let chain = PrecisionProbe.chainModel(d).flatMap(outputs)
      let single = outputs(PrecisionProbe.singleModel(d))
      let fma = PrecisionProbe.fmaModel(d).flatMap(outputs)
      let split = PrecisionProbe.splitModel(d).flatMap(outputs)
      found += PrecisionProbe.interpret(dtype: d, chain: chain, single: single, fma: fma, split: split)
    }
    return found
  }

  /// The capabilities stored for `target` in a campaign's `state` folder (none if it has none).
  public static func stored(_ target: BackendTarget, state: String) -> [Capability] {
    guard let data = FileManager.default.contents(atPath: "\(state)/precision-\(target.name).json") else {
      return []
    }
    return (try? JSONDecoder().decode([Capability].self, from: data)) ?? []
  }

  /// `target` judged with `capabilities`: dtypes computed in another format, operators approximate.
  public static func apply(_ capabilities: [Capability], to target: inout BackendTarget) {
    for c in capabilities {
      if c.operators.isEmpty {
        target.computedAs[c.dtype] = target.computedAs[c.dtype] ?? c.computedAs
      } else {
        target.approximateOps[c.dtype, default: []] += c.operators
      }
    }
  }

  /// `target` judged as the campaign that found `bucket` (`<campaign>/Crashes/<sig16>`) judged it:
  /// with the capabilities that campaign probed (none outside a campaign folder).
  public static func applyStored(bucket: String, to target: inout BackendTarget) {
    let campaign = ((bucket as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
    apply(stored(target, state: campaign + "/.dlsmith"), to: &target)
  }

  /// The capabilities of `target`, probed once and cached in `state/precision-<target>.json`.
  public static func cached(
    _ target: BackendTarget, state: String, limits: WorkerLimits, log: (String) -> Void
  ) -> [Capability] {
    let path = "\(state)/precision-\(target.name).json"
    if let data = FileManager.default.contents(atPath: path),
      let cached = try? JSONDecoder().decode([Capability].self, from: data)
    {
      return cached
    }
    let worker = WorkerProcess(
      command: target.command, limits: limits, logPath: "\(state)/precision-\(target.name).log")
    defer { worker.stop() }
    let found = PrecisionProbe().run(target, worker: worker)
    if let data = try? JSONEncoder().encode(found) { try? Workdir.replaceFile(data, at: path) }
    for c in found { log("capability: \(target.name) \(c) (judged at that precision; not a bucket)") }
    return found
  }
}
