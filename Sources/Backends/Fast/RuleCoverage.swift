/// How the fast backend's rewrite rules fired over many models: in how many models each rule
/// fired, and how many times in all. What `dlsmith bench rules` prints and the rule-coverage test
/// asserts.
public struct RuleCoverage: Sendable {
  public struct Row: Sendable, Equatable {
    public var rule: RewriteRule
    /// Models in which the rule fired at least once.
    public var models: Int
    /// `models` over every model added.
    public var share: Double
    /// Times the rule fired, over all models.
    public var fires: Int
  }

  /// Models added (those that did not compile included: they fire nothing).
  public private(set) var models = 0
  private var modelsFired: [String: Int] = [:]
  private var fires: [String: Int] = [:]

  public init() {}

  /// Adds one model's counts (empty for a model the backend did not compile).
  public mutating func add(_ counts: RuleCounts) {
    models += 1
    for (name, n) in counts.counts {
      modelsFired[name, default: 0] += 1
      fires[name, default: 0] += n
    }
  }

  /// One row per rule of `Pass.allRules`, in pipeline order.
  public var rows: [Row] {
    Pass.allRules.map { r in
      let m = modelsFired[r.name] ?? 0
      return Row(
        rule: r, models: m, share: models == 0 ? 0 : Double(m) / Double(models), fires: fires[r.name] ?? 0)
    }
  }

  /// The rules that fired in fewer than `share` of the models.
  public func under(_ share: Double) -> [Row] { rows.filter { $0.share < share } }
}
