import Symbolic
import Tensors

/// One operator, declared once: signature, attribute domains, shape rule, value rule and reference
/// kernel.
///
/// Hand-written specs (the `Catalogue`) and inferred ones have this same type, so the generator,
/// `verify()` and every backend treat them alike. The shape rule is written over `Dim` expressions:
/// the generator evaluates it with symbols and solves it, `verify()` evaluates it concretely, and
/// `dlsmith ops` prints it.
public struct OperatorSpec: Sendable, Identifiable {
  public typealias ID = String

  public let id: ID
  /// One-paragraph semantics: broadcasting, NaN, padding, rounding.
  public let doc: String
  public let family: Family
  public let inputs: [InputSpec]
  /// Output dtypes, one per output; an op with a variable number of outputs repeats the last.
  public let outputTypes: [OutputType]
  public let attributes: [AttributeSpec]
  public private(set) var traits: Set<Trait>
  /// Shape rule: requires + output shapes; `nil` when the ranks/attributes cannot apply.
  public let rule: @Sendable (RuleContext) -> Rule?
  /// Input value domains: for each input, where its values must lie (`nil` or missing: anywhere).
  public let domain: @Sendable (ValueContext) -> [ValueDomain?]
  /// Output value ranges from input ranges (sound bounds).
  public let range: @Sendable (ValueContext, [Interval]) -> [Interval]
  /// The reference kernel: computes in float64; results are rounded to the output dtypes by
  /// `evaluate(_:attributes:)`.
  public let reference: @Sendable (Attributes, [Tensor]) -> [Tensor]
  /// An optimized kernel with the same exact semantics (low-bit operators: blocked integer GEMM,
  /// XOR-popcount, event-driven LIF), which the low-bit backends run and compare bit for bit
  /// against `reference`; `nil` when the operator has only the reference.
  public let optimized: (@Sendable (Attributes, [Tensor]) -> [Tensor])?

  public init(
    id: ID, family: Family, doc: String,
    inputs: [InputSpec], outputTypes: [OutputType] = [.same("T")],
    attributes: [AttributeSpec] = [], traits: Set<Trait> = [],
    rule: @escaping @Sendable (RuleContext) -> Rule?,
    domain: @escaping @Sendable (ValueContext) -> [ValueDomain?] = { _ in [] },
    range: (@Sendable (ValueContext, [Interval]) -> [Interval])? = nil,
    reference: @escaping @Sendable (Attributes, [Tensor]) -> [Tensor],
    optimized: (@Sendable (Attributes, [Tensor]) -> [Tensor])? = nil
  ) {
    self.id = id
    self.family = family
    self.doc = doc
    self.inputs = inputs
    self.outputTypes = outputTypes
    self.attributes = attributes
    self.traits = traits
    self.rule = rule
    self.domain = domain
    // Default: values pass through (movement, selection, max/avg pooling, concat, ...).
    self.range = range ?? { _, ins in [ins.reduce(ins.first ?? .everything) { $0.hull($1) }] }
    self.reference = reference
    self.optimized = optimized
  }

  /// A low-bit operator whose reference and optimized kernels are one function with a flag.
  public init(
    id: ID, family: Family, doc: String,
    inputs: [InputSpec], outputTypes: [OutputType] = [.same("T")],
    attributes: [AttributeSpec] = [], traits: Set<Trait> = [],
    rule: @escaping @Sendable (RuleContext) -> Rule?,
    domain: @escaping @Sendable (ValueContext) -> [ValueDomain?] = { _ in [] },
    range: (@Sendable (ValueContext, [Interval]) -> [Interval])? = nil,
    kernel: @escaping @Sendable (Attributes, [Tensor], _ optimized: Bool) -> [Tensor]
  ) {
    self.init(
      id: id, family: family, doc: doc, inputs: inputs, outputTypes: outputTypes, attributes: attributes,
      traits: traits, rule: rule, domain: domain, range: range, reference: { kernel($0, $1, false) },
      optimized: { kernel($0, $1, true) })
  }

  /// The same operator running its optimized kernel (itself if it has none), rounded like
  /// `evaluate(_:attributes:)`.
  public var optimizedVariant: OperatorSpec {
    guard let optimized else { return self }
    return OperatorSpec(
      id: id, family: family, doc: doc, inputs: inputs, outputTypes: outputTypes, attributes: attributes,
      traits: traits, rule: rule, domain: domain, range: range, reference: optimized, optimized: optimized)
  }

  /// The same operator with another shape rule (inferred rules, recorded instances).
  public func replacingRule(_ rule: @escaping @Sendable (RuleContext) -> Rule?) -> OperatorSpec {
    OperatorSpec(
      id: id, family: family, doc: doc, inputs: inputs, outputTypes: outputTypes, attributes: attributes,
      traits: traits, rule: rule, domain: domain, range: range, reference: reference, optimized: optimized)
  }

  /// Runs the reference kernel and rounds each output into its dtype (round-to-nearest-even for
  /// floats, wraparound for integers).
  public func evaluate(_ inputs: [Tensor], attributes: Attributes) -> [Tensor] {
    reference(attributes, inputs).map { t in
      Tensor(dtype: t.dtype, shape: t.shape, storage: t.storage.map(t.dtype.rounded))
    }
  }

  /// Output dtypes for the given input dtypes, or `nil` if the combination is not allowed.
  public func outputDTypes(inputs dtypes: [DType], attributes: Attributes, count: Int) -> [DType]? {
    guard dtypes.count == inputs.count else { return nil }
    var bound: [String: DType] = [:]
    for (spec, d) in zip(inputs, dtypes) {
      guard spec.dtypes.allowed.contains(d) else { return nil }
      if let v = spec.dtypes.variable {
        if let b = bound[v], b != d { return nil }
        bound[v] = d
      }
    }
    var out: [DType] = []
    for i in 0..<count {
      switch outputTypes[Swift.min(i, outputTypes.count - 1)] {
      case .same(let v):
        guard let d = bound[v] else { return nil }
        out.append(d)
      case .fixed(let d): out.append(d)
      case .attribute(let name):
        guard case .string(let s) = attributes[name], let d = DType(rawValue: s) else { return nil }
        out.append(d)
      }
    }
    return out
  }
}

extension OperatorSpec {
  /// Operator families, used for grouping in `dlsmith ops` and by the generator's op weights.
  public enum Family: String, Sendable, Codable, CaseIterable {
    case unary, binary, matmul, conv, pool, normalization, reduction, shape, indexing, cast
    /// int8/uint8 quantized operators.
    case quantized
    /// Binary neural networks: sign binarization, bitpacking, XNOR-popcount products.
    case binarized
    /// Spiking neurons (LIF over a leading time dimension) and spike-driven attention.
    case spiking
    /// ONNX operators the catalogue lacks, with shape rules learned from an external target
    /// (`dlsmith infer-rules --target ort`); no reference kernel.
    case onnx
  }

  public enum Trait: String, Sendable, Codable, CaseIterable {
    /// Output shape equals the (broadcast) input shape; one output element per input element.
    case elementwise
    case commutative
    /// Output is discontinuous in its input (round, floor, sign, comparisons, argmax, cast to int):
    /// differential oracles treat near-ties as unstable rather than as mismatches.
    case discontinuous
    /// Outputs are packed bit patterns (binary words): their value ranges are not magnitudes.
    case packedOutput
    /// Every output element is the correctly rounded result of one IEEE operation (+, -, *, /,
    /// sqrt, comparison, min/max) on input elements, or a selection or copy of them (relu, abs,
    /// neg, clip, floor, casts, data movement, max selection). From inputs that are themselves
    /// exact, every faithful implementation produces it bit for bit in every dtype: rounding the
    /// float64 result once to f32, f16 or bf16 is correctly rounded (53 >= 2p + 2). The oracle
    /// compares such values bit for bit (`Oracle.exactValues`); `-0 == +0` and NaN payloads are
    /// not compared. Transcendentals, order-free reductions and matmul/conv accumulation are not
    /// exact.
    case exact
    /// ONNX defines the result by comparing operands or by cases on an operand's sign (max, min,
    /// clip, relu, sign, argmax, max pooling, `x if x > 0 else ...`): a NaN operand falls in no
    /// case, so what a NaN gives is unspecified. The reference propagates NaN; the oracle judges a
    /// result that depends on that choice `unstable` (`ImplementationChoice`, Docs/SpecialValues.md).
    case nanUnspecified
    /// ONNX does not pin the precision of a constant in the operator's definition (HardSwish's
    /// alpha: its text says 1/6, its function body the float32 attribute float32(1/6)); f64 results
    /// depending on it are judged at float32 tolerance, since either reading is faithful.
    case float32Constants
  }

  /// This operator with `more` traits added (declarations mark exact operators this way).
  public func with(_ more: Set<Trait>) -> OperatorSpec {
    var copy = self
    copy.traits.formUnion(more)
    return copy
  }
}

// MARK: - Signature

/// One input of an operator.
public struct InputSpec: Sendable {
  public enum Role: String, Sendable, Codable {
    /// An activation: when the generator creates it, it becomes a graph input.
    case data
    /// A parameter (weights, bias, scale): when created, it becomes a seeded constant.
    case weight
  }

  public let name: String
  public let ranks: RankRule
  public let dtypes: TypeConstraint
  public let role: Role
  /// Bit patterns (packed binary words), not numbers: a fresh one is drawn over the dtype's whole
  /// range and no magnitude bound applies.
  public let packed: Bool

  public init(
    _ name: String, ranks: RankRule, _ dtypes: TypeConstraint, role: Role = .data, packed: Bool = false
  ) {
    self.name = name
    self.ranks = ranks
    self.dtypes = dtypes
    self.role = role
    self.packed = packed
  }
}

/// Which ranks an input may have, possibly relative to an earlier input.
public enum RankRule: Sendable, Hashable {
  case range(ClosedRange<Int>)
  /// Exactly the rank of input `i` plus `offset`.
  case same(as: Int, offset: Int = 0)
  /// Any rank from `lower` up to the rank of input `i` (NumPy broadcasting partner).
  case upTo(Int, from: Int = 0)

  public static func exactly(_ r: Int) -> RankRule { .range(r...r) }

  /// The allowed ranks given the ranks already chosen for earlier inputs.
  public func allowed(_ ranks: [Int], maxRank: Int) -> ClosedRange<Int>? {
    switch self {
    case .range(let r): return r.lowerBound <= maxRank ? r.lowerBound...Swift.min(r.upperBound, maxRank) : nil
    case .same(let i, let off):
      guard i < ranks.count else { return nil }
      let r = ranks[i] + off
      return r >= 0 ? r...r : nil
    case .upTo(let i, let lo):
      guard i < ranks.count, lo <= ranks[i] else { return nil }
      return lo...ranks[i]
    }
  }
}

/// The dtypes an input accepts; inputs sharing a `variable` must have the same dtype.
public struct TypeConstraint: Sendable, Hashable {
  public let variable: String?
  public let allowed: [DType]

  public init(_ variable: String?, _ allowed: [DType]) {
    self.variable = variable
    self.allowed = allowed
  }

  /// `T` over the float types.
  public static let float = TypeConstraint("T", DType.floats)
  /// `T` over floats and integers.
  public static let numeric = TypeConstraint("T", DType.floats + DType.integers)
  /// `T` over every generated type.
  public static let any = TypeConstraint("T", DType.generated)
  /// Every generated type plus int8/uint8: data movement that keeps quantization parameters.
  public static let movable = TypeConstraint("T", DType.generated + DType.quantized)
  public static let bool = TypeConstraint(nil, [.bool])
  public static let index = TypeConstraint(nil, [.i64, .i32])
  public static func variable(_ v: String, _ allowed: [DType]) -> TypeConstraint { .init(v, allowed) }
}

public enum OutputType: Sendable, Hashable {
  /// The dtype bound to a type variable.
  case same(String)
  case fixed(DType)
  /// The dtype named by a string attribute (`cast`'s `to`).
  case attribute(String)
}

// MARK: - Rules

/// The result of a shape rule: the predicates that must hold and the output shapes.
public struct Rule: Sendable, Hashable, Codable {
  public var requires: [Constraint]
  public var outputs: [[Dim]]

  public init(requires: [Constraint] = [], outputs: [[Dim]]) {
    self.requires = requires
    self.outputs = outputs
  }
}

/// What a shape rule sees: input dims and attributes, symbolic or concrete.
public struct RuleContext: Sendable {
  public let inputs: [[Dim]]
  public let dtypes: [DType]
  public let attributes: SymbolicAttributes

  public init(inputs: [[Dim]], dtypes: [DType], attributes: SymbolicAttributes) {
    self.inputs = inputs
    self.dtypes = dtypes
    self.attributes = attributes
  }

  public subscript(_ i: Int) -> [Dim] { inputs[i] }
  public func rank(_ i: Int) -> Int { inputs[i].count }
  /// Integer attribute (symbolic during generation).
  public func int(_ name: String) -> Dim { attributes.int(name) }
  /// Integer-list attribute (symbolic during generation).
  public func ints(_ name: String) -> [Dim] { attributes.ints(name) }
  /// An attribute the generator always samples concretely (axes, permutations, choices).
  public func concreteInt(_ name: String) -> Int { attributes.concreteInt(name) }
  public func concreteInts(_ name: String) -> [Int] { attributes.concreteInts(name) }
  public func string(_ name: String) -> String { attributes.string(name) }
  public func float(_ name: String) -> Double { attributes.float(name) }
}

/// What a value rule sees: concrete shapes and attributes.
public struct ValueContext: Sendable {
  public let shapes: [[Int]]
  public let dtypes: [DType]
  public let attributes: Attributes
  /// Operands known to hold one repeated value (a splat constant), by input index: `pow` with an
  /// integer exponent takes any base.
  public let splats: [Int: Double]
  public init(shapes: [[Int]], dtypes: [DType], attributes: Attributes, splats: [Int: Double] = [:]) {
    self.shapes = shapes
    self.dtypes = dtypes
    self.attributes = attributes
    self.splats = splats
  }
}
