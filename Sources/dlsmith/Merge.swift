import ArgumentParser
import Foundation
import Fuzzing

struct Merge: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Merge campaign folders (shards, whole campaigns, earlier merges) into one.",
    discussion: """
      Buckets by signature with their counts summed per source campaign, instances deduplicated by \
      name, the corpus by content hash, each shard's stats and plot data kept for status and report. \
      Idempotent (merging again changes nothing) and safe to rerun after an interruption. Sources are \
      only read; a running campaign can be merged from.
      """)

  @Argument(help: "Output campaign folder (created if missing).") var output: String
  @Argument(help: "Campaign folders to merge, in order.") var sources: [String]
  @Option(help: .hidden) var killAfter: Int?

  func validate() throws {
    guard !sources.isEmpty else { throw ValidationError("name at least one campaign folder to merge") }
  }

  func run() throws {
    var merge = CampaignMerge(output: output, sources: sources)
    merge.killAfter = killAfter
    merge.log = { log($0) }
    do {
      let summary = try merge.run()
      print("merged \(sources.count) folder(s) into \(output): \(summary)")
    } catch let e as CampaignError {
      log("error: \(e.description)")
      throw ExitCode(1)
    }
  }
}
