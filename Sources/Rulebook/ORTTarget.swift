import Foundation
import IR
import Operators
import Supervision
import Tensors

/// One ONNX operator's signature, as `python/dlsmith_trace.py schemas` prints it.
public struct ONNXSchema: Hashable, Sendable, Codable {
  public struct Parameter: Hashable, Sendable, Codable {
    public var name: String
    /// `single`, `optional` or `variadic`.
    public var option: String
    /// DLSmith dtype names the schema allows.
    public var types: [String]
    public var typeVar: String?
    /// An integer input whose values are shape-like parameters (each element a symbol).
    public var isValue: Bool?
  }
  public struct Attribute: Hashable, Sendable, Codable {
    public var name: String
    /// int, ints, float, floats, string, strings, tensor.
    public var type: String
    public var required: Bool
  }
  public var name: String
  public var inputs: [Parameter]
  public var outputs: [Parameter]
  public var attributes: [Attribute]
}

/// onnxruntime (CPU) as a trace target, through the `python/dlsmith_trace.py serve` worker run by a
/// `Supervisor` (one framed `TraceRequest` per batch, one `TraceReply`): each call becomes a
/// one-node ONNX model; the worker answers with the actual output shapes or the error. A worker
/// that dies or hangs is restarted; the call that killed it is answered as an error
/// (`onnxruntime crashed` / `timed out`), never losing the rest of the batch.
///
/// Templates come from the ONNX schemas alone: operands per the schema (optional ones present half
/// of the time, variadic ones one to three times), one dtype per type variable (f32 preferred),
/// ranks 0…4, shape-like integer inputs as value operands, integer attributes as symbols, string
/// attributes at their defaults (omitted), float and list-of-float attributes omitted.
public final class ORTTraceTarget: TraceTarget {
  public let name: String
  public let schemas: [ONNXSchema]
  let byName: [String: ONNXSchema]
  let command: [String]
  /// Optimized (`ort`) or not (`ort-noopt`).
  public let optimize: Bool
  public let opset: Int
  /// Seconds a batch may take before the worker is considered hung.
  public var batchTimeout = 120.0
  /// Seconds one call may take when calls are retried one by one.
  public var callTimeout = 20.0
  /// The `serve` worker: no memory limit (it caps its own address space), never recycled but after
  /// a failure, its stderr discarded.
  private let worker: Supervisor

  /// Loads the schemas (one `schemas` run) and prepares the worker command.
  /// - Parameters:
  ///   - opset: the ONNX opset calls are made at: the one our exporter writes, so that rules hold
  ///     for the models we generate.
  public init(python: String, script: String, opset: Int, optimize: Bool = true) throws(RulebookError) {
    name = optimize ? "ort" : "ort-noopt"
    self.optimize = optimize
    command = ["/usr/bin/env", python, script]
    self.opset = opset
    worker = Supervisor(
      command: command + ["serve", "--opset", "\(opset)"], limits: SupervisorLimits(killGrace: 2),
      logPath: nil)
    let run: ChildProcess.Completed
    do {
      run = try ChildProcess.run(command + ["schemas", "--opset", "\(opset)"], captureStderr: false)
    } catch {
      throw RulebookError("\(script): cannot start \(python): \(error)")
    }
    guard run.termination == .exited(0) else {
      let status =
        switch run.termination {
        case .exited(let code)?: "exit status \(code)"
        case .signaled(let signal)?: "killed by signal \(signal)"
        case nil: "timed out"
        }
      throw RulebookError("\(script) schemas: \(status) (are onnx and onnxruntime installed?)")
    }
    do {
      schemas = try JSONDecoder().decode([ONNXSchema].self, from: run.stdout)
    } catch {
      throw RulebookError("\(script) schemas: not a schema list: \(Graph.describe(error))")
    }
    byName = Dictionary(schemas.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
  }

  public var operators: [String] { schemas.map(\.name) }

  // MARK: Templates

  public func template(_ op: String, _ rng: inout SplitMix64) -> CallTemplate? {
    guard let schema = byName[op] else { return nil }
    var bound: [String: DType] = [:]
    func dtype(_ p: ONNXSchema.Parameter) -> DType? {
      if let v = p.typeVar, let d = bound[v] { return d }
      let allowed = p.types.compactMap(DType.init(rawValue:))
      guard !allowed.isEmpty else { return nil }
      let d: DType
      if p.isValue == true {
        d = allowed.contains(.i64) ? .i64 : allowed[0]
      } else {
        d = allowed.contains(.f32) && rng.chance(0.7) ? .f32 : rng.pick(allowed)
      }
      if let v = p.typeVar { bound[v] = d }
      return d
    }
    var firstRank: Int?
    var operands: [CallTemplate.Operand] = []
    for p in schema.inputs {
      let copies: Int
      switch p.option {
      case "optional": copies = rng.chance(0.5) ? 1 : 0
      case "variadic": copies = rng.int(in: 1...3)
      default: copies = 1
      }
      if copies == 0 {
        operands.append(.absent)
        continue
      }
      guard let d = dtype(p) else { return nil }
      for c in 0..<copies {
        let name = copies > 1 || p.option == "variadic" ? "\(p.name)\(c)" : p.name
        if p.isValue == true && ORTTraceTarget.selectors.contains(p.name), let r = firstRank, r > 0 {
          operands.append(.constant(name: name, dtype: d, values: ORTTraceTarget.axes(rank: r, &rng)))
        } else if p.isValue == true {
          let length =
            rng.chance(0.15)
            ? -1 : (firstRank.map { rng.chance(0.5) ? $0 : rng.int(in: 1...4) } ?? rng.int(in: 1...4))
          operands.append(.value(name: name, dtype: d, length: length))
        } else {
          let rank =
            firstRank.map { rng.chance(0.6) ? $0 : rng.int(in: 0...4) }
            ?? (rng.chance(0.9) ? rng.int(in: 1...4) : 0)
          if firstRank == nil { firstRank = rank }
          operands.append(.tensor(name: name, dtype: d, rank: rank))
        }
      }
    }
    // Trailing omitted inputs are simply not there.
    while case .absent = operands.last { operands.removeLast() }
    var attributes: [String: CallTemplate.Attribute] = [:]
    let r = firstRank ?? 0
    for a in schema.attributes {
      guard a.required || rng.chance(0.5) else { continue }
      switch a.type {
      case "int" where a.name == "axis":
        guard r > 0 else { continue }
        attributes[a.name] = .fixed(.int(rng.int(in: -r...(r - 1))))
      case "int" where ["dtype", "to", "output_datatype"].contains(a.name):
        // An element type (TensorProto code): float, int32, int64, bool, double.
        attributes[a.name] = .fixed(.int(rng.pick([1, 6, 7, 9, 11])))
      case "int" where ORTTraceTarget.flags.contains(a.name):
        attributes[a.name] = .fixed(.int(rng.chance(0.5) ? 1 : 0))
      case "ints" where a.name == "perm":
        var p = Array(0..<r)
        p.shuffle(using: &rng)
        attributes[a.name] = .fixed(.ints(p))
      case "ints" where ORTTraceTarget.selectors.contains(a.name):
        guard r > 0 else { continue }
        attributes[a.name] = .fixed(.ints(ORTTraceTarget.axes(rank: r, &rng)))
      case "int": attributes[a.name] = .int
      case "ints":
        // ONNX's naming conventions first (spatial lists, begin-and-end pads), then any length.
        let spatial = Swift.max(r - 2, 0)
        let conventional: Int? =
          ["strides", "dilations", "kernel_shape", "output_padding", "output_shape"].contains(a.name)
          ? spatial : a.name == "pads" ? 2 * spatial : nil
        let lengths = [spatial, r, 2 * spatial, rng.int(in: 1...4)]
        attributes[a.name] = .ints(
          length: conventional.map { rng.chance(0.85) ? $0 : rng.pick(lengths) } ?? rng.pick(lengths))
      default:
        if a.required { return nil }  // strings, floats, tensors: defaults only
      }
    }
    var outputs = 0
    for p in schema.outputs {
      switch p.option {
      case "variadic": outputs += rng.int(in: 1...3)
      case "optional": outputs += 0
      default: outputs += 1
      }
    }
    return CallTemplate(op: op, operands: operands, attributes: attributes, outputs: Swift.max(outputs, 1))
  }

  /// Integer attributes that select a behaviour rather than give a size: fixed per partial
  /// operator (0 or 1), like our catalogue's flags.
  static let flags: Set<String> = [
    "keepdims", "noop_with_empty_axes", "allowzero", "transA", "transB", "select_last_index", "exclusive",
    "reverse", "upper", "center_point_box", "ceil_mode", "count_include_pad", "largest", "sorted", "onesided",
    "inverse", "detect_negative", "detect_positive", "storage_order", "new_axis", "training_mode",
    "time_major", "layout", "align_corners", "periodic", "fmod", "p",
  ]
  /// Axis lists (attributes or inputs): a fixed sorted subset of the first operand's axes.
  static let selectors: Set<String> = ["axes"]

  static func axes(rank: Int, _ rng: inout SplitMix64) -> [Int] {
    guard case .ints(let axes)? = AttributeSpec.Kind.axes(of: 0).sampleSelector(ranks: [rank], &rng) else {
      return []
    }
    return axes
  }

  // MARK: Calls

  public func answer(_ calls: [Call]) -> [Answer] {
    guard let op = calls.first?.op else { return [] }
    // Zero-size and negative dims: not asked. The models we generate have positive dims only, and
    // ONNX's zero-size broadcasting (a 0 beats a 1) would only blur the rules we need.
    let positive = calls.map { c in
      c.operands.allSatisfy { o in if case .tensor(_, let s) = o { s.allSatisfy { $0 > 0 } } else { true } }
    }
    if positive.contains(false) {
      let asked = zip(calls, positive).filter(\.1).map(\.0)
      var answers = answer(asked).makeIterator()
      return positive.map { $0 ? answers.next()! : .skipped("zero-size tensor") }
    }
    if let answers = request(op, calls, timeout: batchTimeout) { return answers }
    // The worker died or hung on this batch: retry one call at a time to find the culprit.
    return calls.map { call in
      request(op, [call], timeout: callTimeout)?.first ?? .invalid(lastFailure)
    }
  }

  private var lastFailure = ""

  private func request(_ op: String, _ calls: [Call], timeout: Double) -> [Answer]? {
    let request = TraceRequest(op: op, calls: calls.map { TraceRequest.Call($0, optimize: optimize) })
    let reply: TraceReply
    switch worker.request(request, timeout: timeout, as: TraceReply.self) {
    case .success(let r): reply = r
    case .failure(let failure):
      switch failure {
      case .cannotStart(let why): lastFailure = "dlsmith: cannot start the trace worker: \(why)"
      case .crash(let signal): lastFailure = "onnxruntime crashed (signal \(signal))"
      case .exit(let code): lastFailure = "onnxruntime crashed (exit \(code))"
      case .hang: lastFailure = "onnxruntime timed out"
      case .oom: lastFailure = "onnxruntime over the memory limit"
      case .malformedReply: lastFailure = "dlsmith: malformed worker reply"
      case .unencodableRequest(let why): lastFailure = "dlsmith: \(why)"
      }
      return nil
    }
    guard let results = reply.results, results.count == calls.count else {
      worker.stop()
      lastFailure = "dlsmith: malformed worker reply"
      return nil
    }
    return results.map { r in
      if r.ok == true, let shapes = r.shapes {
        let dtypes = r.dtypes?.compactMap(DType.init(rawValue:))
        return .valid(shapes, dtypes: dtypes?.count == shapes.count ? dtypes : nil)
      }
      let message = r.error ?? "unknown error"
      return message.hasPrefix("dlsmith:") ? .skipped(message) : .invalid(message)
    }
  }
}

// MARK: - The trace protocol (python/dlsmith_trace.py serve)

/// One batch of calls of one operator, as `dlsmith_trace.py serve` reads it.
struct TraceRequest: Encodable {
  struct Call: Encodable {
    var inputs: [Operand?]
    var attributes: [String: Attribute]
    var outputs: Int
    var optimize: Bool

    init(_ call: Rulebook.Call, optimize: Bool) {
      inputs = call.operands.map { o in
        switch o {
        case .absent: nil
        case .tensor(let d, let shape): Operand(dtype: d.rawValue, shape: shape)
        case .value(let d, let v, let scalar):
          Operand(dtype: d.rawValue, value: scalar ? .scalar(v[0]) : .list(v))
        }
      }
      attributes = call.attributes.mapValues(Attribute.init)
      outputs = call.outputs
      self.optimize = optimize
    }
  }

  /// A data input (`shape`, a graph input) or a value input (`value`, an initializer; a scalar is a
  /// 0-d tensor); an omitted optional input is `null`.
  struct Operand: Encodable {
    enum Value: Encodable {
      case scalar(Int)
      case list([Int])
      func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .scalar(let v): try c.encode(v)
        case .list(let v): try c.encode(v)
        }
      }
    }
    var dtype: String
    var shape: [Int]? = nil
    var value: Value? = nil
  }

  /// `{"int": 1}`, `{"ints": [1, 2]}`, `{"float": 0.5}` or `{"string": "constant"}`.
  struct Attribute: Encodable {
    var int: Int? = nil
    var ints: [Int]? = nil
    var float: Double? = nil
    var string: String? = nil

    init(_ value: AttributeValue) {
      switch value {
      case .int(let i): int = i
      case .ints(let l): ints = l
      case .float(let f): float = f
      case .string(let s): string = s
      }
    }
  }

  var op: String
  var calls: [Call]
}

/// The answer to a `TraceRequest`: one result per call, or the error of a malformed request.
struct TraceReply: Decodable {
  struct Result: Decodable {
    var ok: Bool?
    var shapes: [[Int]]?
    var dtypes: [String]?
    var stage: String?
    var error: String?
  }
  var results: [Result]?
  var error: String?
}
