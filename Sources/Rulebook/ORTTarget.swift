import Foundation
import IR
import Operators
import Tensors

#if canImport(Glibc)
  import Glibc
#endif

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

/// onnxruntime (CPU) as a trace target, through the `python/dlsmith_trace.py serve` worker: each
/// call becomes a one-node ONNX model; the worker answers with the actual output shapes or the
/// error. A worker that dies or hangs is restarted; the call that killed it is answered as an
/// error (`onnxruntime crashed` / `timed out`), never losing the rest of the batch.
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
  private var process: Process?
  private var toWorker: FileHandle?
  private var fromWorker: Int32 = -1
  private var buffer = Data()

  /// Loads the schemas (one `schemas` run) and prepares the worker command.
  /// - Parameters:
  ///   - opset: the ONNX opset calls are made at: the one our exporter writes, so that rules hold
  ///     for the models we generate.
  public init(python: String, script: String, opset: Int, optimize: Bool = true) throws(RulebookError) {
    signal(SIGPIPE, SIG_IGN)
    name = optimize ? "ort" : "ort-noopt"
    self.optimize = optimize
    command = ["/usr/bin/env", python, script]
    self.opset = opset
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [python, script, "schemas", "--opset", "\(opset)"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.standardError
    do { try p.run() } catch { throw RulebookError("\(script): cannot start \(python): \(error)") }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      throw RulebookError(
        "\(script) schemas: exit status \(p.terminationStatus) (are onnx and onnxruntime installed?)")
    }
    do {
      schemas = try JSONDecoder().decode([ONNXSchema].self, from: data)
    } catch {
      throw RulebookError("\(script) schemas: not a schema list: \(Graph.describe(error))")
    }
    byName = Dictionary(schemas.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
  }

  deinit { stop() }

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

  func json(_ call: Call) -> [String: Any] {
    let inputs: [Any] = call.operands.map { o -> Any in
      switch o {
      case .absent: return NSNull()
      case .tensor(let d, let shape): return ["dtype": d.rawValue, "shape": shape]
      case .value(let d, let v, let scalar):
        return ["dtype": d.rawValue, "value": scalar ? v[0] as Any : v as Any]
      }
    }
    var attributes: [String: Any] = [:]
    for (k, v) in call.attributes {
      switch v {
      case .int(let i): attributes[k] = ["int": i]
      case .ints(let l): attributes[k] = ["ints": l]
      case .float(let f): attributes[k] = ["float": f]
      case .string(let s): attributes[k] = ["string": s]
      }
    }
    return ["inputs": inputs, "attributes": attributes, "outputs": call.outputs, "optimize": optimize]
  }

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
    if process == nil {
      do { try start() } catch {
        lastFailure = "dlsmith: cannot start the trace worker: \(error)"
        return nil
      }
    }
    let body: [String: Any] = ["op": op, "calls": calls.map(json)]
    guard var line = try? JSONSerialization.data(withJSONObject: body) else { return nil }
    line.append(0x0A)
    guard (try? toWorker?.write(contentsOf: line)) != nil, let reply = readLine(timeout: timeout) else {
      let status = stop()
      lastFailure = status.map { "onnxruntime crashed (\($0))" } ?? "onnxruntime timed out"
      return nil
    }
    guard let object = try? JSONSerialization.jsonObject(with: reply) as? [String: Any],
      let results = object["results"] as? [[String: Any]], results.count == calls.count
    else {
      _ = stop()
      lastFailure = "dlsmith: malformed worker reply"
      return nil
    }
    return results.map { r in
      if r["ok"] as? Bool == true, let shapes = r["shapes"] as? [[Int]] {
        let dtypes = (r["dtypes"] as? [String])?.compactMap(DType.init(rawValue:))
        return .valid(shapes, dtypes: dtypes?.count == shapes.count ? dtypes : nil)
      }
      let message = r["error"] as? String ?? "unknown error"
      return message.hasPrefix("dlsmith:") ? .skipped(message) : .invalid(message)
    }
  }

  private func start() throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: command[0])
    p.arguments = Array(command.dropFirst()) + ["serve", "--opset", "\(opset)"]
    let stdin = Pipe()
    let stdout = Pipe()
    p.standardInput = stdin
    p.standardOutput = stdout
    p.standardError = FileHandle.nullDevice
    try p.run()
    process = p
    toWorker = stdin.fileHandleForWriting
    fromWorker = stdout.fileHandleForReading.fileDescriptor
    buffer = Data()
  }

  /// Stops the worker; returns how it ended if it had already died.
  @discardableResult
  private func stop() -> String? {
    guard let p = process else { return nil }
    var ended: String?
    if p.isRunning {
      p.terminate()
      let deadline = Date().addingTimeInterval(2)
      while p.isRunning && Date() < deadline { usleep(5_000) }
      if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    } else {
      ended =
        p.terminationReason == .uncaughtSignal
        ? "signal \(p.terminationStatus)" : "exit \(p.terminationStatus)"
    }
    p.waitUntilExit()
    try? toWorker?.close()
    process = nil
    toWorker = nil
    fromWorker = -1
    return ended
  }

  private func readLine(timeout: Double) -> Data? {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      if let nl = buffer.firstIndex(of: 0x0A) {
        let line = buffer[buffer.startIndex..<nl]
        buffer = Data(buffer[(nl + 1)...])
        return Data(line)
      }
      let remaining = deadline.timeIntervalSinceNow
      guard remaining > 0 else { return nil }
      var pfd = pollfd(fd: fromWorker, events: Int16(POLLIN), revents: 0)
      let ready = poll(&pfd, 1, Int32(Swift.min(100, Swift.max(1, remaining * 1000))))
      if ready <= 0 { continue }
      var chunk = [UInt8](repeating: 0, count: 1 << 16)
      let n = read(fromWorker, &chunk, chunk.count)
      guard n > 0 else { return nil }
      buffer.append(contentsOf: chunk[0..<n])
    }
  }
}
