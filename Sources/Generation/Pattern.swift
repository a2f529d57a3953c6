import Foundation
import IR
import Operators
import Tensors

/// A rewrite pattern of a target's optimizer: a small subgraph of our operators that the target's
/// pass rewrites (fuses, folds, eliminates), with the conditions under which it fires and named near
/// misses that break one condition each. The generator grafts patterns into random models as units
/// (`GeneratorOptions.patterns`); their shapes and unpinned attributes are solved like any
/// operator's.
///
/// Patterns are data, one file per target (`Patterns/<target>.json`, read by `PatternLibrary`), so
/// that a library can grow from what the targets are seen to rewrite. Docs/Patterns.md gives the
/// file format.
public struct Pattern: Sendable, Hashable {
  /// `<target>.<name>`, unique in a library.
  public var name: String
  /// Where the target implements the rewrite (`file: class`).
  public var origin: String
  /// The target's level or pass that performs it (onnxruntime: basic, extended, layout, all).
  public var level: String?
  /// Float dtypes the pass accepts; `nil` for any.
  public var dtypes: [DType]?
  /// The graft point's dims, when the pass needs them (its rank, or exact sizes that pinned
  /// attributes depend on); `nil` for any value that fits the first use.
  public var graftPoint: [PatternDim]?
  public var nodes: [PatternNode]
  /// The nodes the target rewrites when the pattern fires.
  public var rewritten: [Int]
  /// What the pass requires, in words.
  public var conditions: String
  public var nearMisses: [NearMiss]
  /// How often the generator picks it relative to the others (1 unless the library says; a mined
  /// pattern weighs by how often the target rewrote it).
  public var weight = 1.0

  /// A variant that breaks one firing condition: the target must not fire, or fire correctly.
  public struct NearMiss: Sendable, Hashable {
    public var name: String
    /// Pattern values given a second consumer.
    public var taps: [PatternOperand]
    /// Other attribute values, by node.
    public var attributes: [Int: [String: AttributeValue]]
    /// Other operands, by node and input.
    public var inputs: [PatternNode.Slot: PatternOperand]
    /// Other float dtypes (ones the pass does not accept).
    public var dtypes: [DType]?
  }

  /// The pattern as grafted: nodes with a near miss's changes applied.
  public func variant(_ nearMiss: NearMiss?) -> Graft {
    guard let m = nearMiss else {
      return Graft(
        pattern: name, variant: nil, graftPoint: graftPoint, nodes: nodes, taps: [], dtypes: dtypes)
    }
    var ns = nodes
    for (k, attrs) in m.attributes { ns[k].attributes.merge(attrs) { _, new in new } }
    for (slot, operand) in m.inputs { ns[slot.node].inputs[slot.input] = operand }
    return Graft(
      pattern: name, variant: m.name, graftPoint: graftPoint, nodes: ns, taps: m.taps,
      dtypes: m.dtypes ?? dtypes)
  }
}

/// One node of a pattern.
public struct PatternNode: Sendable, Hashable {
  public var op: OperatorSpec.ID
  public var inputs: [PatternOperand]
  /// Pinned attribute values (the rest are sampled or solved).
  public var attributes: [String: AttributeValue]
  /// Pinned dims of fresh operands, by input.
  public var shapes: [Int: [PatternDim]]

  /// An input of a node of a pattern.
  public struct Slot: Sendable, Hashable {
    public var node: Int
    public var input: Int
  }
}

/// Where an operand of a pattern node comes from.
public enum PatternOperand: Sendable, Hashable, CustomStringConvertible {
  /// The graft point: an existing value of the model.
  case graftPoint
  /// Output `output` of pattern node `node`.
  case node(Int, output: Int)
  /// A fresh constant with random values.
  case constant
  /// A fresh constant whose every element is this value (rounded to the dtype).
  case splat(Double)
  /// A fresh graph input.
  case input
  /// The generator's usual choice for the operand's role.
  case any

  public var description: String {
    switch self {
    case .graftPoint: return "x"
    case .node(let k, let j): return j == 0 ? "#\(k)" : "#\(k).\(j)"
    case .constant: return "const"
    case .splat(let v): return "const:\(formatFloat(v))"
    case .input: return "input"
    case .any: return "any"
    }
  }

  /// Parses `x`, `#k`, `#k.j`, `const`, `const:V`, `input`, `any`.
  public init?(_ text: String) {
    switch text {
    case "x": self = .graftPoint
    case "const": self = .constant
    case "input": self = .input
    case "any": self = .any
    default:
      if text.hasPrefix("const:"), let v = Double(text.dropFirst(6)), v.isFinite {
        self = .splat(v)
      } else if text.hasPrefix("#") {
        let parts = text.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let k = Int(parts[0]), k >= 0 else { return nil }
        let j = parts.count == 2 ? Int(parts[1]) : 0
        guard let j, j >= 0 else { return nil }
        self = .node(k, output: j)
      } else {
        return nil
      }
    }
  }

  /// A fresh value (not the graft point or a pattern node's output).
  var isFresh: Bool {
    switch self {
    case .graftPoint, .node: return false
    default: return true
    }
  }
}

/// A pinned dim of a fresh operand.
public enum PatternDim: Sendable, Hashable {
  case literal(Int)
  /// Dim `i` of the graft point (negative counts from the end).
  case graftPoint(Int)
  /// Dim `i` of output 0 of pattern node `node`.
  case node(Int, Int)
  /// Solved freely.
  case free

  /// Parses `5`, `x[i]`, `#k[i]`, `*`.
  init?(_ text: String) {
    if text == "*" {
      self = .free
    } else if let v = Int(text), v >= 1 {
      self = .literal(v)
    } else if text.hasSuffix("]"), let open = text.firstIndex(of: "[") {
      guard let i = Int(text[text.index(after: open)..<text.index(before: text.endIndex)]) else { return nil }
      let head = text[..<open]
      if head == "x" {
        self = .graftPoint(i)
      } else if head.hasPrefix("#"), let k = Int(head.dropFirst()), k >= 0 {
        self = .node(k, i)
      } else {
        return nil
      }
    } else {
      return nil
    }
  }
}

/// A pattern ready to graft: its exact form or one near miss.
public struct Graft: Sendable, Hashable {
  public var pattern: String
  public var variant: String?
  public var graftPoint: [PatternDim]?
  public var nodes: [PatternNode]

  /// Whether a value of `shape` can be the graft point.
  func fits(_ shape: [Int]) -> Bool {
    guard let dims = graftPoint else { return true }
    guard dims.count == shape.count else { return false }
    return zip(dims, shape).allSatisfy { d, s in
      if case .literal(let v) = d { return v == s }
      return true
    }
  }
  public var taps: [PatternOperand]
  public var dtypes: [DType]?
}

/// The patterns of one target, read from `Patterns/<target>.json`.
public struct PatternLibrary: Sendable {
  public var target: String
  public var patterns: [Pattern]

  public init(target: String, patterns: [Pattern]) {
    self.target = target
    self.patterns = patterns
  }

  /// Reads and checks one library file. Errors name the file, the pattern and the problem.
  public static func read(_ path: String, operators: (OperatorSpec.ID) -> OperatorSpec? = Catalogue.spec)
    throws
    -> PatternLibrary
  {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw PatternError("\(path): cannot read: \(error.localizedDescription)")
    }
    do {
      return try parse(data, operators: operators)
    } catch let e as PatternError {
      throw PatternError("\(path): \(e.message)")
    }
  }

  /// The libraries of `targets` in `directory` (`<directory>/<target>.json`), in the given order.
  public static func read(targets: [String], in directory: String) throws -> [PatternLibrary] {
    try targets.map { try read("\(directory)/\($0).json") }
  }

  /// The targets that have a library in `directory`, sorted.
  public static func targets(in directory: String) -> [String] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
  }

  public static func parse(_ data: Data, operators: (OperatorSpec.ID) -> OperatorSpec? = Catalogue.spec)
    throws
    -> PatternLibrary
  {
    let file: PatternFile
    do {
      file = try JSONDecoder().decode(PatternFile.self, from: data)
    } catch {
      throw PatternError(Graph.describe(error))
    }
    var seen = Set<String>()
    var patterns: [Pattern] = []
    for (index, p) in file.patterns.enumerated() {
      let label = "pattern \(index) ('\(p.name)')"
      guard seen.insert(p.name).inserted else { throw PatternError("\(label): the name is used twice") }
      do {
        patterns.append(try p.checked(operators))
      } catch let e as PatternError {
        throw PatternError("\(label): \(e.message)")
      }
    }
    return PatternLibrary(target: file.target, patterns: patterns)
  }
}

public struct PatternError: Error, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

// MARK: - The file

/// A JSON scalar or list, typed later by the attribute's declaration.
enum RawValue: Decodable, Hashable {
  case number(Double)
  case numbers([Double])
  case string(String)

  init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let v = try? c.decode(Double.self) {
      self = .number(v)
    } else if let v = try? c.decode([Double].self) {
      self = .numbers(v)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else {
      throw DecodingError.dataCorruptedError(
        in: c, debugDescription: "an attribute value must be a number, a list of numbers or a string")
    }
  }

  /// The value as `spec`'s attribute `name` declares it.
  func typed(_ name: String, of spec: OperatorSpec) throws -> AttributeValue {
    guard let a = spec.attributes.first(where: { $0.name == name }) else {
      let known = spec.attributes.map(\.name).joined(separator: ", ")
      throw PatternError("\(spec.id) has no attribute '\(name)' (it has: \(known.isEmpty ? "none" : known))")
    }
    func integer(_ v: Double) throws -> Int {
      guard v.rounded() == v, abs(v) < 1e15 else {
        throw PatternError("\(spec.id).\(name): \(v) is not an integer")
      }
      return Int(v)
    }
    switch (a.kind, self) {
    case (.float, .number(let v)): return .float(v)
    case (.int, .number(let v)), (.axis, .number(let v)), (.flag, .number(let v)): return .int(try integer(v))
    case (.ints, .numbers(let vs)), (.axes, .numbers(let vs)), (.permutation, .numbers(let vs)):
      return .ints(try vs.map(integer))
    case (.choice, .string(let s)), (.dtype, .string(let s)): return .string(s)
    default: throw PatternError("\(spec.id).\(name): \(self) does not fit the attribute's kind")
    }
  }
}

struct PatternFile: Decodable {
  var target: String
  var patterns: [Entry]

  struct Entry: Decodable {
    var name: String
    var origin: String
    var level: String?
    var dtypes: [String]?
    var x: [String]?
    var nodes: [NodeEntry]
    var rewritten: [Int]
    var conditions: String?
    var nearMisses: [NearMissEntry]?
    var weight: Double?
  }

  struct NodeEntry: Decodable {
    var op: String
    var inputs: [String]
    var attributes: [String: RawValue]?
    var shapes: [String: [String]]?
  }

  struct NearMissEntry: Decodable {
    var name: String
    var tap: [String]?
    var attributes: [String: [String: RawValue]]?
    var inputs: [String: String]?
    var dtypes: [String]?
  }
}

extension PatternFile.Entry {
  func checked(_ operators: (OperatorSpec.ID) -> OperatorSpec?) throws -> Pattern {
    guard !nodes.isEmpty else { throw PatternError("no nodes") }
    func dtypeList(_ names: [String]?) throws -> [DType]? {
      try names.map { ns in
        try ns.map { n in
          guard let d = DType(rawValue: n) else {
            throw PatternError(
              "'\(n)' is not a dtype (\(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
          }
          return d
        }
      }
    }
    var specs: [OperatorSpec] = []
    var parsed: [PatternNode] = []
    for (k, n) in nodes.enumerated() {
      guard let spec = operators(n.op) else { throw PatternError("node \(k): unknown operator '\(n.op)'") }
      guard n.inputs.count == spec.inputs.count else {
        throw PatternError(
          "node \(k) (\(n.op)): \(n.inputs.count) inputs, the operator takes \(spec.inputs.count)")
      }
      let inputs = try n.inputs.enumerated().map { i, text in
        try operand(text, at: k, input: i, specs: specs)
      }
      var attributes: [String: AttributeValue] = [:]
      for (name, raw) in n.attributes ?? [:] {
        do {
          attributes[name] = try raw.typed(name, of: spec)
        } catch let e as PatternError {
          throw PatternError("node \(k): \(e.message)")
        }
      }
      var shapes: [Int: [PatternDim]] = [:]
      for (key, dims) in n.shapes ?? [:] {
        guard let i = Int(key), inputs.indices.contains(i), inputs[i].isFresh else {
          throw PatternError("node \(k): shapes key '\(key)' is not a fresh operand's input index")
        }
        shapes[i] = try dims.map { d in
          guard let dim = PatternDim(d) else {
            throw PatternError("node \(k): '\(d)' is not a dim (5, x[i], #k[i], *)")
          }
          if case .node(let j, _) = dim, j >= k {
            throw PatternError("node \(k): '\(d)' refers to a node that is not before it")
          }
          return dim
        }
      }
      specs.append(spec)
      parsed.append(PatternNode(op: spec.id, inputs: inputs, attributes: attributes, shapes: shapes))
    }
    guard !rewritten.isEmpty, rewritten.allSatisfy(nodes.indices.contains) else {
      throw PatternError("rewritten must list node indices (0..<\(nodes.count))")
    }
    var misses: [Pattern.NearMiss] = []
    for m in nearMisses ?? [] {
      do {
        var attributes: [Int: [String: AttributeValue]] = [:]
        for (key, attrs) in m.attributes ?? [:] {
          guard let k = Int(key), parsed.indices.contains(k) else { throw PatternError("no node '\(key)'") }
          var typed: [String: AttributeValue] = [:]
          for (name, raw) in attrs { typed[name] = try raw.typed(name, of: specs[k]) }
          attributes[k] = typed
        }
        var inputs: [PatternNode.Slot: PatternOperand] = [:]
        for (key, text) in m.inputs ?? [:] {
          let parts = key.split(separator: ".")
          guard parts.count == 2, let k = Int(parts[0]), let i = Int(parts[1]), parsed.indices.contains(k),
            parsed[k].inputs.indices.contains(i)
          else { throw PatternError("inputs key '\(key)' is not node.input") }
          inputs[PatternNode.Slot(node: k, input: i)] = try operand(
            text, at: k, input: i, specs: Array(specs[..<k]))
        }
        let taps = try (m.tap ?? []).map { text -> PatternOperand in
          guard let t = PatternOperand(text), case .node(let k, _) = t, parsed.indices.contains(k) else {
            throw PatternError("tap '\(text)' is not a pattern node's output (#k)")
          }
          return t
        }
        misses.append(
          Pattern.NearMiss(
            name: m.name, taps: taps, attributes: attributes, inputs: inputs, dtypes: try dtypeList(m.dtypes))
        )
      } catch let e as PatternError {
        throw PatternError("near miss '\(m.name)': \(e.message)")
      }
    }
    if let w = weight, !(w > 0 && w.isFinite) { throw PatternError("weight \(w) is not a positive number") }
    let point = try x.map { dims in
      try dims.map { d -> PatternDim in
        switch PatternDim(d) {
        case .literal(let v)?: return .literal(v)
        case .free?: return .free
        default: throw PatternError("x: '\(d)' is not a dim of the graft point (a size, or *)")
        }
      }
    }
    return Pattern(
      name: name, origin: origin, level: level, dtypes: try dtypeList(dtypes), graftPoint: point,
      nodes: parsed,
      rewritten: rewritten, conditions: conditions ?? "", nearMisses: misses, weight: weight ?? 1)
  }

  private func operand(_ text: String, at k: Int, input i: Int, specs: [OperatorSpec]) throws
    -> PatternOperand
  {
    guard let o = PatternOperand(text) else {
      throw PatternError(
        "node \(k) input \(i): '\(text)' is not an operand (x, #k, #k.j, const, const:V, input, any)")
    }
    if case .node(let j, _) = o, j >= k {
      throw PatternError("node \(k) input \(i): '\(text)' refers to a node that is not before it")
    }
    return o
  }
}

extension PatternLibrary {
  /// Whether the library `name` (a file name, or a pattern name's prefix: `ort` of `ort.relu_clip`)
  /// serves `backend`: library `t` (and `t.mined`) serves `t` and its levels `t-*` (ort-basic,
  /// tvm-opt).
  public static func serves(_ name: String, backend: String) -> Bool {
    let t = name.split(separator: ".").first.map(String.init) ?? name
    return backend == t || backend.hasPrefix(t + "-")
  }

  /// The patterns a `--patterns` choice selects from the libraries in `directory`:
  /// - `none`: no pattern;
  /// - `all`: every library;
  /// - `target`: the libraries of the campaign's `backends` (library `ort` serves `ort`,
  ///   `ort-noopt`, ...; a backend without a library adds none);
  /// - a comma-separated list of library names.
  ///
  /// Only patterns whose every operator is among `operators` are kept (so `--ops` and
  /// `--exclude-ops` hold for grafts too), in library order.
  public static func select(
    _ choice: String, backends: [String], directory: String, operators: [OperatorSpec]
  ) throws -> [Pattern] {
    if choice == "none" { return [] }
    let available = targets(in: directory)
    guard !available.isEmpty else {
      throw PatternError(
        "\(directory): no pattern library (<target>.json) here; --patterns-dir names the folder")
    }
    let names: [String]
    switch choice {
    case "all": names = available
    case "target":
      guard !backends.isEmpty else {
        throw PatternError(
          "--patterns target needs a campaign's backends; name libraries instead (\(available.joined(separator: ", ")))"
        )
      }
      names = available.filter { name in backends.contains { serves(name, backend: $0) } }
      guard !names.isEmpty else {
        throw PatternError(
          "\(directory): no pattern library serves \(backends.joined(separator: ", ")) (libraries: \(available.joined(separator: ", ")))"
        )
      }
    default:
      names = choice.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
      if let bad = names.first(where: { !available.contains($0) }) {
        throw PatternError(
          "\(directory): no pattern library '\(bad)' (available: \(available.isEmpty ? "none" : available.joined(separator: ", ")))"
        )
      }
    }
    let ids = Set(operators.map(\.id))
    return try read(targets: names, in: directory).flatMap(\.patterns).filter { p in
      p.nodes.allSatisfy { ids.contains($0.op) }
    }
  }
}
