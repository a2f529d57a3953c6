import Symbolic
import Tensors

/// A concrete attribute value.
public enum AttributeValue: Hashable, Sendable, CustomStringConvertible {
  case int(Int)
  case ints([Int])
  case float(Double)
  case string(String)

  public var description: String {
    switch self {
    case .int(let v): return String(v)
    case .ints(let v): return "[" + v.map(String.init).joined(separator: ", ") + "]"
    case .float(let v): return formatFloat(v)
    case .string(let s): return "\"\(s)\""
    }
  }
}

/// Shortest text that parses back to the same double.
public func formatFloat(_ v: Double) -> String {
  if v.isNaN { return "nan" }
  if v.isInfinite { return v < 0 ? "-inf" : "inf" }
  return "\(v)"
}

extension AttributeValue: Codable {
  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let i = try? c.decode(Int.self) {
      self = .int(i)
    } else if let l = try? c.decode([Int].self) {
      self = .ints(l)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let f = try? c.decode(Double.self) {
      self = .float(f)
    } else if let o = try? c.decode([String: Double].self), let f = o["float"] {
      self = .float(f)
    } else {
      throw DecodingError.dataCorruptedError(
        in: c, debugDescription: "attribute must be an integer, integer list, number or string")
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .int(let v): try c.encode(v)
    case .ints(let v): try c.encode(v)
    // Floats are tagged so that 2.0 does not come back as the integer 2.
    case .float(let v): try c.encode(["float": v])
    case .string(let s): try c.encode(s)
    }
  }
}

/// Concrete attributes of a node, keyed by name.
public struct Attributes: Hashable, Sendable, Codable {
  public var values: [String: AttributeValue]

  public init(_ values: [String: AttributeValue] = [:]) { self.values = values }

  public subscript(_ name: String) -> AttributeValue? {
    get { values[name] }
    set { values[name] = newValue }
  }

  public func int(_ name: String) -> Int {
    guard case .int(let v) = values[name] else { preconditionFailure("missing int attribute '\(name)'") }
    return v
  }
  public func ints(_ name: String) -> [Int] {
    guard case .ints(let v) = values[name] else { preconditionFailure("missing ints attribute '\(name)'") }
    return v
  }
  /// A float attribute: a float32 value (ONNX float attributes are float32), so a value stored with
  /// more precision is rounded to float32 here, where every kernel and the exporter read it.
  public func float(_ name: String) -> Double {
    guard case .float(let v) = values[name] else { preconditionFailure("missing float attribute '\(name)'") }
    return Double(Float(v))
  }
  public func string(_ name: String) -> String {
    guard case .string(let v) = values[name] else {
      preconditionFailure("missing string attribute '\(name)'")
    }
    return v
  }

  /// The symbolic view of these (all-constant) attributes.
  public var symbolic: SymbolicAttributes { SymbolicAttributes(values.mapValues(SymbolicAttribute.init)) }

  public init(from decoder: any Decoder) throws {
    values = try [String: AttributeValue](from: decoder)
  }
  public func encode(to encoder: any Encoder) throws { try values.encode(to: encoder) }
}

/// An attribute as a shape rule sees it: integers may be symbols.
public enum SymbolicAttribute: Hashable, Sendable {
  case int(Dim)
  case ints([Dim])
  case float(Double)
  case string(String)

  /// A concrete attribute (its integers as constants).
  public init(_ v: AttributeValue) {
    switch v {
    case .int(let i): self = .int(.constant(i))
    case .ints(let l): self = .ints(l.map(Dim.constant))
    case .float(let f): self = .float(f)
    case .string(let s): self = .string(s)
    }
  }
}

public struct SymbolicAttributes: Sendable {
  public var values: [String: SymbolicAttribute]
  public init(_ values: [String: SymbolicAttribute] = [:]) { self.values = values }

  public func int(_ name: String) -> Dim {
    guard case .int(let v) = values[name] else { preconditionFailure("missing int attribute '\(name)'") }
    return v
  }
  public func ints(_ name: String) -> [Dim] {
    guard case .ints(let v) = values[name] else { preconditionFailure("missing ints attribute '\(name)'") }
    return v
  }
  public func concreteInt(_ name: String) -> Int {
    guard let v = int(name).constantValue else { preconditionFailure("attribute '\(name)' must be concrete") }
    return v
  }
  public func concreteInts(_ name: String) -> [Int] {
    ints(name).map { d in
      guard let v = d.constantValue else { preconditionFailure("attribute '\(name)' must be concrete") }
      return v
    }
  }
  /// A float attribute: a float32 value (ONNX float attributes are float32), so a value stored with
  /// more precision is rounded to float32 here, where every kernel and the exporter read it.
  public func float(_ name: String) -> Double {
    guard case .float(let v) = values[name] else { preconditionFailure("missing float attribute '\(name)'") }
    return Double(Float(v))
  }
  public func string(_ name: String) -> String {
    guard case .string(let v) = values[name] else {
      preconditionFailure("missing string attribute '\(name)'")
    }
    return v
  }
}

/// The declared domain of one attribute.
///
/// `int` and `ints` attributes are *symbolic*: the generator leaves them as unknowns and solves them
/// together with the new dims. The other kinds depend on ranks only and are sampled concretely.
public struct AttributeSpec: Sendable {
  public enum Length: Sendable, Hashable {
    case fixed(Int)
    /// The rank of input `i`.
    case rank(of: Int)
    /// Spatial dims of input `i`: its rank minus 2 (NC... layouts).
    case spatial(of: Int)
    /// Twice the spatial dims (begin and end pads).
    case twiceSpatial(of: Int)
    /// Chosen by the generator in this range (e.g. reshape's target rank).
    case chosen(ClosedRange<Int>)

    /// A list length for these input ranks, drawn in `chosen ∩ 0...maxRank` for `.chosen`
    /// lengths; `nil` when the ranks do not allow the attribute.
    public func sample(ranks: [Int], maxRank: Int, _ rng: inout SplitMix64) -> Int? {
      if case .chosen(let range) = self {
        return rng.int(in: range.lowerBound...Swift.min(range.upperBound, maxRank))
      }
      return count(ranks: ranks)
    }

    /// The list length for these input ranks; `.chosen` lengths take `chosen`. `nil` when the
    /// ranks do not allow the attribute (a missing input, fewer than 2 dims for spatial lengths).
    public func count(ranks: [Int], chosen: Int? = nil) -> Int? {
      func rank(_ i: Int) -> Int? { i < ranks.count ? ranks[i] : nil }
      switch self {
      case .fixed(let k): return k
      case .rank(let i): return rank(i)
      case .spatial(let i): return rank(i).flatMap { $0 >= 2 ? $0 - 2 : nil }
      case .twiceSpatial(let i): return rank(i).flatMap { $0 >= 2 ? 2 * ($0 - 2) : nil }
      case .chosen(let c): return chosen.map { c.contains($0) ? $0 : nil } ?? c.lowerBound
      }
    }
  }

  public enum Kind: Sendable {
    case int(ClosedRange<Int>)
    case ints(Length, ClosedRange<Int>)
    case float(ClosedRange<Double>)
    case choice([String])
    /// An axis of input `i` (`-r ... r-1`), widened by `extra` (unsqueeze may address `r`).
    case axis(of: Int, extra: Int = 0)
    /// A sorted, duplicate-free, non-empty set of axes of input `i`.
    case axes(of: Int)
    case permutation(of: Int)
    case dtype([DType])
    /// A boolean sampled concretely, stored as `.int(0)` or `.int(1)` (keepdims, exclusive, ...).
    case flag
    /// Free text, only for backend-internal operators (never generated).
    case text

    /// A random value of a selector kind (`choice`, `axis`, `axes`, `permutation`, `flag`: sampled
    /// concretely, never solved) for these input ranks; `nil` when the ranks do not allow one or
    /// the kind is not a selector. The generator and the rule tracer draw them this way.
    public func sampleSelector(ranks: [Int], _ rng: inout SplitMix64) -> AttributeValue? {
      func rank(_ i: Int) -> Int? { i < ranks.count ? ranks[i] : nil }
      switch self {
      case .choice(let cs): return .string(rng.pick(cs))
      case .axis(let i, let extra):
        guard let r = rank(i), r + extra > 0 else { return nil }
        return .int(rng.int(in: -(r + extra)...(r + extra - 1)))
      case .axes(let i):
        guard let r = rank(i), r > 0 else { return nil }
        var axes = (0..<r).filter { _ in rng.chance(0.5) }
        if axes.isEmpty { axes = [rng.int(in: 0...(r - 1))] }
        return .ints(axes)
      case .permutation(let i):
        guard let r = rank(i) else { return nil }
        var p = Array(0..<r)
        p.shuffle(using: &rng)
        return .ints(p)
      case .flag: return .int(rng.chance(0.5) ? 1 : 0)
      case .int, .ints, .float, .dtype, .text: return nil
      }
    }
  }

  public let name: String
  public let kind: Kind
  /// Value used by the minimizer when it resets attributes, and printed by `dlsmith ops`.
  public let defaultValue: AttributeValue?
  /// For a float attribute: the values a model may hold when that is wider than the range the
  /// generator draws from (`kind`): clip's crossed bounds (`EdgeValuePlan`).
  public let accepted: ClosedRange<Double>?

  public init(
    _ name: String, _ kind: Kind, default defaultValue: AttributeValue? = nil,
    accepting accepted: ClosedRange<Double>? = nil
  ) {
    self.name = name
    self.kind = kind
    self.defaultValue = defaultValue
    self.accepted = accepted
  }

  /// Whether the generator solves this attribute (true) or samples it from ranks (false).
  public var isSymbolic: Bool {
    switch kind {
    case .int, .ints: return true
    default: return false
    }
  }

  /// The integer domain of symbolic attributes.
  public var integerDomain: ClosedRange<Int>? {
    switch kind {
    case .int(let r), .ints(_, let r): return r
    default: return nil
    }
  }

  /// Checks a concrete value against the declared domain for the given input ranks.
  public func accepts(_ value: AttributeValue?, ranks: [Int]) -> Bool {
    guard let value else { return false }
    func rank(_ i: Int) -> Int? { i < ranks.count ? ranks[i] : nil }
    switch (kind, value) {
    case (.int(let r), .int(let v)): return r.contains(v)
    case (.ints(let len, let r), .ints(let vs)):
      guard vs.allSatisfy(r.contains) else { return false }
      return len.count(ranks: ranks, chosen: vs.count) == vs.count
    case (.float(let r), .float(let v)):
      // Float attributes are float32: the bounds' float32 roundings are inside the domain.
      if let accepted, accepted.contains(v) { return true }
      return r.contains(v) || (Double(Float(r.lowerBound))...Double(Float(r.upperBound))).contains(v)
    case (.choice(let cs), .string(let s)): return cs.contains(s)
    case (.axis(let i, let extra), .int(let a)):
      guard let r = rank(i), r + extra > 0 else { return false }
      return (-(r + extra)...(r + extra - 1)).contains(a)
    case (.axes(let i), .ints(let axs)):
      guard let r = rank(i), !axs.isEmpty else { return false }
      return axs.allSatisfy { (0..<r).contains($0) } && axs == Array(Set(axs)).sorted()
    case (.permutation(let i), .ints(let p)):
      guard let r = rank(i) else { return false }
      return p.sorted() == Array(0..<r)
    case (.dtype(let ds), .string(let s)): return DType(rawValue: s).map(ds.contains) ?? false
    case (.flag, .int(let v)): return v == 0 || v == 1
    case (.text, .string): return true
    default: return false
    }
  }
}

/// `n` ones as an ints attribute (default strides, dilations).
func ones(_ n: Int) -> AttributeValue { .ints([Int](repeating: 1, count: n)) }
/// `n` zeros as an ints attribute (default pads).
func zeros(_ n: Int) -> AttributeValue { .ints([Int](repeating: 0, count: n)) }
