import Foundation
import Kernels
import Symbolic
import Tensors

extension OperatorSpec {
  /// An elementwise unary operator from its scalar function.
  ///
  /// Output shape and dtype equal the input's. The output value range is the sampled image of
  /// `scalar` over the input range (`Interval.image`). NaN inputs give NaN unless the doc says
  /// otherwise.
  static func unary(
    _ id: String, _ doc: String, dtypes: TypeConstraint = .float,
    domain: ValueDomain? = nil, attributes: [AttributeSpec] = [], traits: Set<Trait> = [],
    _ scalar: @escaping @Sendable (Double, Attributes) -> Double
  ) -> OperatorSpec {
    OperatorSpec(
      id: id, family: .unary, doc: doc,
      inputs: [InputSpec("x", ranks: .range(0...6), dtypes)],
      attributes: attributes, traits: traits.union([.elementwise]),
      rule: { c in Rule(outputs: [c[0]]) },
      domain: { _ in [domain] },
      range: { c, ins in [ins[0].image { scalar($0, c.attributes) }] },
      reference: { a, t in [Reference.map(t[0]) { scalar($0, a) }] })
  }
}

/// ONNX Selu's default alpha and gamma, float32 values (ONNX float attributes are float32).
public let seluAlpha = Double(Float(1.67326319217681884765625))
public let seluGamma = Double(Float(1.05070102214813232421875))
/// ONNX HardSigmoid's default alpha, float32(0.2).
public let hardSigmoidAlpha = Double(Float(0.2))
/// ONNX HardSwish's alpha, float32(1/6).
public let hardSwishAlpha = Double(Float(1.0 / 6))

/// NaN-propagating max(x, 0).
@inlinable func relu(_ x: Double) -> Double { x.isNaN ? x : (x > 0 ? x : 0) }

/// Sign: -1, 0 (for both +0 and -0) or 1; NaN stays NaN.
@inlinable func signum(_ x: Double) -> Double { x.isNaN ? x : (x > 0 ? 1 : (x < 0 ? -1 : 0)) }

/// Clamp with NaN propagation; `lo` is applied first, then `hi`, so `lo > hi` gives `hi`
/// (the ONNX Clip convention).
@inlinable func clamp(_ x: Double, _ lo: Double, _ hi: Double) -> Double {
  x.isNaN ? x : Swift.min(Swift.max(x, lo), hi)
}

extension OperatorSpec {
  static let unaryFamily: [OperatorSpec] = [
    unary("relu", "max(x, 0); relu(NaN) = NaN, relu(-0) = 0.", traits: [.exact, .nanUnspecified]) { x, _ in
      relu(x)
    },
    unary(
      "leaky_relu", "x if x >= 0 else alpha * x; NaN propagates.",
      attributes: [AttributeSpec("alpha", .float(0.01...0.5), default: .float(0.01))],
      traits: [.nanUnspecified]
    ) { x, a in x >= 0 ? x : a.float("alpha") * x },
    unary(
      "elu", "x if x > 0 else alpha * (exp(x) - 1); NaN propagates.",
      attributes: [AttributeSpec("alpha", .float(0.1...2), default: .float(1))],
      traits: [.nanUnspecified]
    ) { x, a in x > 0 ? x : a.float("alpha") * expm1(x) },
    unary(
      "selu",
      "gamma * (x if x > 0 else alpha * (exp(x) - 1)) with ONNX's default attributes, float32 values: alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875 (the exporter writes them explicitly).",
      traits: [.nanUnspecified]
    ) { x, _ in seluGamma * (x > 0 ? x : seluAlpha * expm1(x)) },
    unary("sigmoid", "1 / (1 + exp(-x)), computed in float64.") { x, _ in 1 / (1 + exp(-x)) },
    unary(
      "hard_sigmoid",
      "max(0, min(1, alpha * x + beta)) with ONNX's defaults as the float32 attributes they are: alpha = float32(0.2) = 0.20000000298023224, beta = 0.5.",
      traits: [.nanUnspecified]
    ) { x, _ in clamp(hardSigmoidAlpha * x + 0.5, 0, 1) },
    unary(
      "hard_swish",
      "x * max(0, min(1, alpha * x + 1/2)) (ONNX HardSwish: its alpha 1/6 is a float32 attribute of the HardSigmoid in its definition, float32(1/6) = 0.16666667163372040; its text says 1/6, so f64 results are judged at float32 tolerance).",
      traits: [.float32Constants, .nanUnspecified]
    ) { x, _ in
      x * clamp(hardSwishAlpha * x + 0.5, 0, 1)
    },
    unary("tanh", "Hyperbolic tangent.") { x, _ in tanh(x) },
    unary("gelu", "Exact GELU: x * (1 + erf(x / sqrt(2))) / 2.") { x, _ in
      x * (1 + erf(x / 2.0.squareRoot())) / 2
    },
    unary("erf", "Gauss error function.") { x, _ in erf(x) },
    unary("exp", "e^x; overflow gives +inf, which the generator avoids by range.") { x, _ in exp(x) },
    unary(
      "log", "Natural logarithm; generated inputs stay positive (log 0 = -inf, log x<0 = NaN).",
      domain: .positive
    ) { x, _ in log(x) },
    unary(
      "sqrt", "Square root; generated inputs are >= 0 (sqrt(-0) = -0, sqrt(x<0) = NaN).",
      domain: .nonNegative,
      traits: [.exact]
    ) { x, _ in x.squareRoot() },
    unary(
      "reciprocal", "1 / x; generated inputs keep |x| >= 0.1 (1/±0 = ±inf).", domain: .awayFromZero,
      traits: [.exact]
    ) {
      x, _ in 1 / x
    },
    unary("abs", "|x|; abs(-0) = 0.", dtypes: .numeric, traits: [.exact]) { x, _ in abs(x) },
    unary("neg", "-x (for integers wraps: -INT_MIN = INT_MIN).", dtypes: .numeric, traits: [.exact]) { x, _ in
      -x
    },
    unary("sin", "Sine (radians).") { x, _ in sin(x) },
    unary("cos", "Cosine (radians).") { x, _ in cos(x) },
    unary("atan", "Arctangent.") { x, _ in atan(x) },
    unary("asin", "Arcsine; generated inputs lie in [-1, 1].", domain: .within(-1, 1)) { x, _ in asin(x) },
    unary("sinh", "Hyperbolic sine.") { x, _ in sinh(x) },
    unary("floor", "Round toward -inf.", traits: [.discontinuous, .exact]) { x, _ in x.rounded(.down) },
    unary("ceil", "Round toward +inf.", traits: [.discontinuous, .exact]) { x, _ in x.rounded(.up) },
    unary(
      "round",
      "Round to nearest integer, ties to even (ONNX Round): round(0.5) = 0, round(1.5) = 2, round(-2.5) = -2.",
      traits: [.discontinuous, .exact]
    ) { x, _ in x.rounded(.toNearestOrEven) },
    unary(
      "sign", "-1, 0 or 1; sign(-0) = 0; sign(NaN) = NaN.", dtypes: .numeric,
      traits: [.discontinuous, .exact, .nanUnspecified]
    ) {
      x, _ in
      signum(x)
    },
    unary("softplus", "log(1 + exp(x)), computed stably as max(x, 0) + log1p(exp(-|x|)).") { x, _ in
      Swift.max(x, 0) + log1p(exp(-abs(x)))
    },
    unary("softsign", "x / (1 + |x|).") { x, _ in x / (1 + abs(x)) },
    unary(
      "clip",
      "min(max(x, min), max): `min` is applied first, so min > max gives max (ONNX Clip); NaN propagates.",
      attributes: [
        // Generated bounds never cross; models with special values cross them (`EdgeValuePlan`).
        AttributeSpec("min", .float(-6...0), default: .float(0), accepting: -6...6),
        AttributeSpec("max", .float(0...6), default: .float(6), accepting: -6...6),
      ],
      traits: [.exact, .nanUnspecified]
    ) { x, a in clamp(x, a.float("min"), a.float("max")) },
  ]
}
