import Foundation

/// Which shard of a campaign this process runs: from `--shard-index`/`--total-shards`, else from the
/// variables a cluster scheduler sets for each task of an array job.
///
/// - Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` (set by Kubernetes) and `JOB_COMPLETIONS` (set in
///   the pod template to the Job's `completions`; Kubernetes does not expose it).
/// - Slurm job array: `SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN` (an array may start above 0),
///   and `SLURM_ARRAY_TASK_COUNT`.
///
/// A flag wins over the environment. Seeds of different shards never overlap (`Campaign.modelSeed`).
public struct Shard: Sendable, Equatable, CustomStringConvertible {
  public var index: Int
  public var total: Int

  public init(index: Int, total: Int) {
    self.index = index
    self.total = total
  }

  public var description: String { "shard \(index) of \(total)" }

  public struct Invalid: Error, CustomStringConvertible {
    public var description: String
  }

  /// The shard from the flags (nil when not given) and the environment.
  public static func resolve(index: Int?, total: Int?, environment env: [String: String]) throws -> Shard {
    func int(_ name: String) throws -> Int? {
      guard let text = env[name] else { return nil }
      guard let v = Int(text.trimmingCharacters(in: .whitespaces)) else {
        throw Invalid(description: "\(name)=\(text) is not an integer")
      }
      return v
    }
    var fromEnv: (index: Int?, total: Int?, source: String) = (nil, nil, "")
    if let i = try int("JOB_COMPLETION_INDEX") {
      fromEnv = (i, try int("JOB_COMPLETIONS"), "JOB_COMPLETION_INDEX (JOB_COMPLETIONS)")
    } else if let i = try int("SLURM_ARRAY_TASK_ID") {
      fromEnv = (
        i - (try int("SLURM_ARRAY_TASK_MIN") ?? 0), try int("SLURM_ARRAY_TASK_COUNT"),
        "SLURM_ARRAY_TASK_ID (SLURM_ARRAY_TASK_COUNT)"
      )
    }
    let shard = Shard(index: index ?? fromEnv.index ?? 0, total: total ?? fromEnv.total ?? 1)
    guard shard.total >= 1, (0..<shard.total).contains(shard.index) else {
      let source = index == nil && fromEnv.index != nil ? " (from \(fromEnv.source))" : ""
      throw Invalid(
        description:
          "shard index \(shard.index) is not in 0..<\(shard.total)\(source): set --total-shards or the count variable"
      )
    }
    return shard
  }
}
