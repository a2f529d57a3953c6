import Foundation

/// `Crashes/<sig16>/bucket.json`: written by the campaign, read by replay, minimize, status, report
/// and export-bug. The one definition of the file's schema.
public struct BucketRecord: Codable, Sendable {
  public var signature: String
  public var tuple: Signature
  public var title: String
  public var count: Int
  public var firstSeen: String
  public var lastSeen: String
  public var status: String
  /// What triage established (verdict, localization, minimization, consensus runs).
  public var triage: TriageEvidence?
  /// The first instance's message (the error text or the discrepancy).
  public var message: String?
  /// In a merged folder (`CampaignMerge`): the count per source campaign (its seed and shards),
  /// whose sum is `count`.
  public var contributions: [String: Int]?

  public init(
    signature: String, tuple: Signature, title: String, count: Int, firstSeen: String, lastSeen: String,
    status: String
  ) {
    self.signature = signature
    self.tuple = tuple
    self.title = title
    self.count = count
    self.firstSeen = firstSeen
    self.lastSeen = lastSeen
    self.status = status
  }

  /// The record of the bucket folder `bucket`, or nil if it has no readable `bucket.json`.
  public static func read(bucket: String) -> BucketRecord? {
    guard let data = FileManager.default.contents(atPath: bucket + "/bucket.json") else { return nil }
    return try? JSONDecoder().decode(BucketRecord.self, from: data)
  }

  /// Every bucket under a `Crashes/` folder, by folder name, sorted.
  public static func all(in crashes: String) -> [(id: String, record: BucketRecord)] {
    ((try? FileManager.default.contentsOfDirectory(atPath: crashes)) ?? []).sorted().compactMap { id in
      read(bucket: "\(crashes)/\(id)").map { (id, $0) }
    }
  }
}
