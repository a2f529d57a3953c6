import Foundation

/// A campaign folder as its readers see it (`status`, `report`, `merge`): the shards' state under
/// `.dlsmith/shard-*/` and the buckets under `Crashes/`. Reading never writes and never fails on a
/// campaign that is running: a half-written `stats.json` or a torn plot line is skipped.
public struct CampaignFolder: Sendable {
  public var path: String
  public var shards: [ShardState]
  public var buckets: [Bucket]

  /// `.dlsmith/shard-<i>/`.
  public struct ShardState: Sendable {
    /// The folder name, `shard-<i>`.
    public var name: String
    public var stats: CampaignStats?
    /// `plot_data.csv` rows, oldest first (`PlotData.read`).
    public var plot: [[String: String]]
    /// Features seen (`CampaignPublisher.features`: `t:<op>:<dtype>` and `e:<producer>><consumer>`).
    public var features: [String]
    /// Whether a campaign holds the shard's lock now.
    public var alive: Bool
  }

  /// `Crashes/<id>/`.
  public struct Bucket: Sendable {
    public var id: String
    public var record: BucketRecord
    /// Instance folder names, sorted.
    public var instances: [String]
    /// Nodes of the bucket's minimized model (`minimized/model.dlsmith.json`), if it has one.
    public var minimizedNodes: Int?
    /// The repro script of the bucket's bug bundle, when `dlsmith export-bug` wrote one into
    /// `bundle/`: `repro.py` (Python targets) or `repro.sh` (built-in backends).
    public var bundleRepro: String? = nil
  }

  /// Reads the folder at `path`; throws when it is not a directory.
  public static func read(_ path: String) throws -> CampaignFolder {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw CampaignError("\(path): not a campaign folder (no such directory)")
    }
    let state = path + "/.dlsmith"
    let shards = ((try? fm.contentsOfDirectory(atPath: state)) ?? []).filter { $0.hasPrefix("shard-") }
      .sorted { shardOrder($0) < shardOrder($1) }
      .map { name -> ShardState in
        let dir = "\(state)/\(name)"
        let stats = CampaignStats.read(dir + "/stats.json")
        let features = ((try? String(contentsOfFile: dir + "/features", encoding: .utf8)) ?? "")
          .split(separator: "\n").map(String.init)
        return ShardState(
          name: name, stats: stats, plot: PlotData.read(dir + "/plot_data.csv"), features: features,
          alive: Workdir.lockHeld(dir + "/lock"))
      }
    let crashes = path + "/Crashes"
    let buckets = BucketRecord.all(in: crashes).map { b -> Bucket in
      let dir = "\(crashes)/\(b.id)"
      let instances = ((try? fm.contentsOfDirectory(atPath: dir + "/instances")) ?? []).sorted()
      let minimized = fm.contents(atPath: dir + "/minimized/model.dlsmith.json").flatMap { data in
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["nodes"] as? [Any]
      }
      return Bucket(
        id: b.id, record: b.record, instances: instances, minimizedNodes: minimized?.count,
        bundleRepro: ["repro.py", "repro.sh"].first { fm.fileExists(atPath: "\(dir)/bundle/\($0)") })
    }
    return CampaignFolder(path: path, shards: shards, buckets: buckets)
  }

  /// `shard-2` before `shard-10`; names that are not `shard-<int>` after, by name.
  static func shardOrder(_ name: String) -> (Int, String) {
    (Int(name.dropFirst("shard-".count)) ?? Int.max, name)
  }
}
