import Foundation
import Inference
import Tensors

/// The records of one partial operator and the template they fill.
public struct TracedPartial: Sendable {
  public var template: CallTemplate
  public var records: RecordSet
  /// Output dtypes of the first valid call, when the target tells them.
  public var outputDTypes: [DType]?
}

/// How many calls to make per operator.
public struct TraceOptions: Sendable {
  /// Distinct partial operators (ranks, dtypes, non-integer attributes) sampled per operator.
  public var partialsPerOperator = 4
  /// Draws of templates tried to find that many distinct ones.
  public var templateDraws = 40
  /// Random calls per partial operator (symbols drawn from small pools, so equal dims are common).
  public var randomCalls = 120
  /// More random rounds (up to six) while fewer than this many calls were valid.
  public var minimumValid = 30
  /// Augmented calls per partial operator (NeuRI's mutations of valid calls).
  public var augmentLimit = 800
  /// The seed; each operator's draws derive from it and the operator's name.
  public var seed: UInt64 = 1

  public init() {}
}

/// Collects records: random calls of each partial operator, then NeuRI's augmentation of the
/// valid ones (set to 0 or −2, swap pairs, ±1…3), all answered by the target.
public struct Tracer {
  public var options: TraceOptions

  public init(options: TraceOptions = TraceOptions()) { self.options = options }

  /// Distinct templates of `op`, in draw order (at most `templateDraws` draws).
  public func templates(_ op: String, on target: some TraceTarget) -> [CallTemplate] {
    var rng = SplitMix64(seed: options.seed ^ stableHash(op))
    var seen = Set<String>()
    var out: [CallTemplate] = []
    for _ in 0..<options.templateDraws {
      guard let t = target.template(op, &rng), seen.insert(t.key).inserted else { continue }
      out.append(t)
    }
    return out
  }

  /// What tracing one operator gave.
  public struct Traced: Sendable {
    /// The partial operators traced, each with at least one valid call.
    public var partials: [TracedPartial]
    /// Keys of partial operators drawn whose first random round had no valid call at all
    /// (structurally invalid: wrong ranks or attribute lengths); not traced further.
    public var withoutValidCalls: [String]
  }

  /// Traces one operator: templates in draw order until `partialsPerOperator` have valid calls,
  /// each with its random and augmented calls.
  public func trace(_ op: String, on target: some TraceTarget) -> Traced {
    var out = Traced(partials: [], withoutValidCalls: [])
    for (index, template) in templates(op, on: target).enumerated()
    where out.partials.count < options.partialsPerOperator {
      var rng = SplitMix64(seed: options.seed ^ stableHash("\(op)#\(index)"))
      if let t = trace(template, on: target, &rng) {
        out.partials.append(t)
      } else {
        out.withoutValidCalls.append(template.key)
      }
    }
    return out
  }

  /// Traces one template; `nil` when its first random round has no valid call.
  public func trace(_ template: CallTemplate, on target: some TraceTarget, _ rng: inout SplitMix64)
    -> TracedPartial?
  {
    let roles = template.symbols.map(\.role)
    var set = RecordSet(partial: template.partial)
    var seen = Set<[Int]>()
    var outputDTypes: [DType]?
    func run(_ vectors: [[Int]]) {
      let fresh = vectors.filter { seen.insert($0).inserted }
      guard !fresh.isEmpty else { return }
      let answers = target.answer(fresh.map(template.call))
      for (v, a) in zip(fresh, answers) {
        switch a {
        case .valid(let shapes, let dtypes):
          set.records.append(.valid(v, shapes))
          if outputDTypes == nil { outputDTypes = dtypes }
        case .invalid(let e): set.records.append(.invalid(v, e))
        case .skipped: continue
        }
      }
    }
    for round in 0..<6 {
      let reuse = [0.4, 0.6, 0.8, 0.9, 0.95, 0.95][round]
      run((0..<options.randomCalls).map { _ in Tracer.sample(roles, reuse: reuse, &rng) })
      let valid = set.records.filter(\.isValid).count
      if valid == 0 && round == 0 { return nil }
      if valid >= options.minimumValid { break }
    }
    // Output ranks: those of the first valid call (records of other ranks are kept, and ignored by
    // the synthesizer).
    if let first = set.records.first(where: \.isValid) {
      set.partial.outputRanks = first.outputs!.map(\.count)
    }
    // Augmentation around a few valid calls, with every one-step mutation of each: pairs of valid
    // calls that differ in one symbol are what tells which symbols an output depends on, and a
    // thin sample of mutations over all valid calls would have few of them.
    let valid = set.records.filter(\.isValid)
    let m = roles.count
    let perBase = Swift.max(1, 8 * m + m * (m - 1) / 2)
    let bases = Swift.min(valid.count, Swift.max(2, options.augmentLimit / perBase))
    var around = set
    around.records =
      (0..<bases).map { valid[$0 * valid.count / Swift.max(bases, 1)] } + set.records.filter { !$0.isValid }
    let mutations = around.augmented(limit: options.augmentLimit, seed: rng.next())
    run(mutations)
    return TracedPartial(template: template, records: set, outputDTypes: outputDTypes)
  }

  /// A random symbol vector: dims mostly 1…8, reusing earlier dims with probability `reuse` (so
  /// that dims which must match, like a matmul's inner dims or conv channels, often do); integer
  /// attributes within their domain, small values first; value elements often equal to a dim.
  public static func sample(_ roles: [CallTemplate.Role], reuse: Double, _ rng: inout SplitMix64) -> [Int] {
    var dims: [Int] = []
    var out: [Int] = []
    // The dims of the previous tensor operand, and a copy of them being replayed (operands of one
    // call often share their shape, or its trailing part under broadcasting).
    var previous: [Int] = []
    var current: [Int] = []
    var copying: [Int]? = nil
    for role in roles {
      switch role {
      case .dim(let position, let rank):
        if position == 0 {
          if !current.isEmpty { previous = current }
          current = []
          copying = nil
          if !previous.isEmpty && rng.chance(0.35) {
            // Right-aligned copy of the previous operand's dims, padded with 1s.
            let tail = Array(previous.suffix(rank))
            copying = Array(repeating: 1, count: rank - tail.count) + tail
          }
        }
        let v: Int
        if let copying, position < copying.count {
          v = rng.chance(0.9) ? copying[position] : 1
        } else if !dims.isEmpty && rng.chance(reuse) {
          v = rng.pick(dims)
        } else {
          // Mostly small, sometimes as large as the generator's dims (rules must extrapolate).
          let u = rng.unit()
          v =
            u < 0.15
            ? 1 : u < 0.82 ? rng.int(in: 2...8) : u < 0.96 ? rng.int(in: 9...16) : rng.int(in: 17...64)
        }
        dims.append(v)
        current.append(v)
        out.append(v)
      case .attribute(let r):
        // Shape-like attributes often equal a dim or a product of consecutive dims.
        let u = rng.unit()
        if !dims.isEmpty && u < 0.3 {
          let v = u < 0.2 ? rng.pick(dims) : Tracer.runProduct(dims, &rng)
          if r.contains(v) {
            out.append(v)
            continue
          }
        }
        let lo = Swift.max(r.lowerBound, -2)
        let hi = Swift.min(r.upperBound, 8)
        guard lo <= hi else {
          out.append(r.lowerBound)
          continue
        }
        let small = Swift.max(lo, 0)...Swift.min(hi, 3)
        out.append(!small.isEmpty && rng.chance(0.6) ? rng.int(in: small) : rng.int(in: lo...hi))
      case .value(let r):
        let u = rng.unit()
        if !dims.isEmpty && u < 0.35 {
          out.append(rng.pick(dims))
        } else if !dims.isEmpty && u < 0.45 {
          out.append(Tracer.runProduct(dims, &rng))
        } else if u < 0.6 {
          out.append(-1)
        } else {
          out.append(rng.int(in: Swift.max(r.lowerBound, 0)...Swift.max(r.upperBound, 0)))
        }
      }
    }
    return out
  }

  /// The product of a random run of consecutive dims.
  static func runProduct(_ dims: [Int], _ rng: inout SplitMix64) -> Int {
    let a = rng.int(in: 0...(dims.count - 1))
    let b = rng.int(in: a...(dims.count - 1))
    return dims[a...b].reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? $0 : $0 * $1 }
  }
}
