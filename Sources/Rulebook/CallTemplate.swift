import Inference
import Operators
import Symbolic
import Tensors

/// One partial operator of a target, as a call with holes: which operands, their dtypes and
/// ranks, and the attributes; every integer (input dims, integer attributes, the elements of
/// shape-like value inputs) is a hole, a symbol.
///
/// The same template type serves every target, so sampling, augmentation, records and rules files
/// are shared; a target only turns a filled template (`Call`) into an answer. The canonical text
/// `key` is what groups records into a partial operator:
///
///     X:f32[4] W:f32[4] B:- | dilations=ints[2] group=int pads=ints[4] auto_pad="NOTSET" -> 1
///
/// Float attributes are not part of the key (their value is taken as shape-irrelevant; if it is
/// not, the records of one key disagree and the rule comes out incomplete, never wrong).
public struct CallTemplate: Hashable, Sendable, Codable {
  /// One operand position.
  public enum Operand: Hashable, Sendable, Codable {
    /// An omitted optional input.
    case absent
    /// A tensor whose dims are symbols.
    case tensor(name: String, dtype: DType, rank: Int)
    /// A small integer tensor whose elements are symbols (a shape, pads, axes, …); `length` −1 is a
    /// scalar (one symbol).
    case value(name: String, dtype: DType, length: Int)
    /// A small integer tensor with fixed elements (axes: they select, they are not sizes).
    case constant(name: String, dtype: DType, values: [Int])
  }

  /// An attribute's part in the template.
  public enum Attribute: Hashable, Sendable, Codable {
    /// One integer symbol.
    case int
    /// A list of `length` integer symbols.
    case ints(length: Int)
    /// A concrete value, part of the key (axis choices, modes, permutations, dtypes).
    case fixed(AttributeValue)
    /// A float, concrete but not part of the key.
    case float(Double)
  }

  /// What a symbol stands for, so samplers draw plausible values.
  public enum Role: Hashable, Sendable {
    /// Dimension `position` of a tensor operand of rank `rank`.
    case dim(position: Int, rank: Int)
    case attribute(ClosedRange<Int>)
    case value(ClosedRange<Int>)
  }

  public var op: String
  public var operands: [Operand]
  /// Attributes by name, kept sorted by name.
  public var attributes: [String: Attribute]
  /// Number of outputs.
  public var outputs: Int
  /// Domains of integer attributes (sampling only; not part of the key).
  public var attributeDomains: [String: ClosedRange<Int>]

  public init(
    op: String, operands: [Operand], attributes: [String: Attribute], outputs: Int,
    attributeDomains: [String: ClosedRange<Int>] = [:]
  ) {
    self.op = op
    self.operands = operands
    self.attributes = attributes
    self.outputs = outputs
    self.attributeDomains = attributeDomains
  }

  /// Attribute names in canonical (sorted) order.
  public var attributeNames: [String] { attributes.keys.sorted() }

  /// The canonical text that identifies the partial operator (see the type documentation).
  public var key: String {
    var parts: [String] = []
    for o in operands {
      switch o {
      case .absent: parts.append("-")
      case .tensor(let n, let d, let r): parts.append("\(n):\(d.rawValue)[\(r)]")
      case .value(let n, let d, let l):
        parts.append("\(n):\(d.rawValue)=\(l < 0 ? "scalar" : "values[\(l)]")")
      case .constant(let n, let d, let vs): parts.append("\(n):\(d.rawValue)=\(vs)")
      }
    }
    var attrs: [String] = []
    for name in attributeNames {
      switch attributes[name]! {
      case .int: attrs.append("\(name)=int")
      case .ints(let l): attrs.append("\(name)=ints[\(l)]")
      case .fixed(let v):
        if case .string(let s) = v { attrs.append("\(name)=\"\(s)\"") } else { attrs.append("\(name)=\(v)") }
      case .float: continue
      }
    }
    return parts.joined(separator: " ") + " | " + attrs.joined(separator: " ") + " -> \(outputs)"
  }

  /// Symbol names and roles, in order: operand dims and value elements, then integer attributes
  /// in name order. Names are `operand.k`, `attribute`, `attribute.k`, made usable as `Dim`
  /// symbols and unique.
  public var symbols: [(name: String, role: Role)] {
    var out: [(String, Role)] = []
    var used = Set<String>()
    func add(_ base: String, _ role: Role) {
      var name = CallTemplate.usable(base)
      while used.contains(name) { name += "_" }
      used.insert(name)
      out.append((name, role))
    }
    for o in operands {
      switch o {
      case .absent: break
      case .tensor(let n, _, let r): for k in 0..<r { add("\(n).\(k)", .dim(position: k, rank: r)) }
      case .value(let n, _, let l):
        if l < 0 { add(n, .value(-2...8)) } else { for k in 0..<l { add("\(n).\(k)", .value(-2...8)) } }
      case .constant: break
      }
    }
    for name in attributeNames {
      let domain = attributeDomains[name] ?? -2...8
      switch attributes[name]! {
      case .int: add(name, .attribute(domain))
      case .ints(let l): for k in 0..<l { add("\(name).\(k)", .attribute(domain)) }
      case .fixed, .float: break
      }
    }
    return out
  }

  /// The partial operator for the records and the synthesizer.
  public var partial: PartialOperator {
    PartialOperator(op: op, key: key, symbolNames: symbols.map(\.name), outputRanks: [])
  }

  static func usable(_ name: String) -> String {
    var s = String(name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." ? $0 : "_" })
    if s.first.map({ !($0.isLetter || $0 == "_") }) ?? true { s = "_" + s }
    if ["min", "max", "true", "false"].contains(s) { s += "_" }
    return s
  }

  /// The template's symbols bound to an operator instance's dims and integer attributes (as the
  /// generator sees them: constants or its own symbols), in `symbols` order; `nil` if the
  /// instance does not fit the template. Tensor operands are the instance's inputs in order; a
  /// shape-like input's elements are its attribute `in_<name>` (learned ONNX operators carry them
  /// so, see `LearnedSpecs.onnxSpecs`).
  public func bindings(operands dims: [[Dim]], attributes: SymbolicAttributes) -> [Dim]? {
    var out: [Dim] = []
    var k = 0
    for o in operands {
      switch o {
      case .absent, .constant: break
      case .tensor(_, _, let r):
        guard k < dims.count, dims[k].count == r else { return nil }
        out += dims[k]
        k += 1
      case .value(let name, _, let length):
        switch attributes.values["in_\(name)"] {
        case .int(let d)? where length < 0: out.append(d)
        case .ints(let ds)? where ds.count == length: out += ds
        default: return nil
        }
      }
    }
    for name in attributeNames {
      switch (self.attributes[name], attributes.values[name]) {
      case (.int, .int(let d)?): out.append(d)
      case (.ints(let l), .ints(let ds)?):
        guard ds.count == l else { return nil }
        out += ds
      case (.int, _), (.ints, _): return nil
      default: continue
      }
    }
    return out
  }

  /// Fills the holes with `symbols` (in `symbols` order).
  public func call(_ values: [Int]) -> Call {
    var i = 0
    func take(_ n: Int) -> [Int] {
      defer { i += n }
      return Array(values[i..<(i + n)])
    }
    var ops: [Call.Operand] = []
    for o in operands {
      switch o {
      case .absent: ops.append(.absent)
      case .tensor(_, let d, let r): ops.append(.tensor(d, take(r)))
      case .value(_, let d, let l): ops.append(.value(d, take(l < 0 ? 1 : l), scalar: l < 0))
      case .constant(_, let d, let vs): ops.append(.value(d, vs, scalar: false))
      }
    }
    var attrs: [String: AttributeValue] = [:]
    for name in attributeNames {
      switch attributes[name]! {
      case .int: attrs[name] = .int(take(1)[0])
      case .ints(let l): attrs[name] = .ints(take(l))
      case .fixed(let v): attrs[name] = v
      case .float(let f): attrs[name] = .float(f)
      }
    }
    return Call(op: op, operands: ops, attributes: attrs, outputs: outputs)
  }
}

/// A concrete call of an operator on a target.
public struct Call: Hashable, Sendable {
  public enum Operand: Hashable, Sendable {
    case absent
    case tensor(DType, [Int])
    case value(DType, [Int], scalar: Bool)
  }
  public var op: String
  public var operands: [Operand]
  public var attributes: [String: AttributeValue]
  public var outputs: Int
}

/// What a target answered for one call.
public enum Answer: Hashable, Sendable {
  /// The call ran: the output shapes (and dtypes, when the target tells them).
  case valid([[Int]], dtypes: [DType]? = nil)
  /// The target rejected the call: its error text (first line).
  case invalid(String)
  /// Not asked (too large to run here); not recorded.
  case skipped(String)
}

/// A call's error text, as the target printed it (first line).
public struct TargetError: Error, Hashable, Sendable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Something that answers calls: the reference interpreter, the fast backend, onnxruntime.
public protocol TraceTarget {
  /// The name used in `Rules/<name>/` and `Rules/records/<name>/`.
  var name: String { get }
  /// The operators this target offers, in a fixed order.
  var operators: [String] { get }
  /// A random partial operator of `op`, or `nil` when this draw has none.
  func template(_ op: String, _ rng: inout SplitMix64) -> CallTemplate?
  /// Answers a batch of calls of one partial operator, in order.
  func answer(_ calls: [Call]) -> [Answer]
}
