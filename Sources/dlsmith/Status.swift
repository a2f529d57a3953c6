import ArgumentParser
import Foundation
import Fuzzing

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show a campaign folder's progress: per shard and buckets.")

  @Argument(help: "Campaign folder.") var directory: String = "."
  @Flag(help: "Print JSON (with each shard's last plot_data row).") var json = false
  @Flag(help: "Refresh until interrupted: redrawn in place on a terminal, appended otherwise.") var watch =
    false
  @Option(help: "Seconds between refreshes with --watch.") var interval: Double = 2

  func validate() throws {
    guard interval > 0 else { throw ValidationError("--interval must be positive") }
    guard !(json && watch) else { throw ValidationError("--watch redraws text; use --json without it") }
  }

  func render() throws -> String {
    let folder: CampaignFolder
    do {
      folder = try CampaignFolder.read(directory)
    } catch let e as CampaignError {
      log("error: \(e.description)")
      throw ExitCode(1)
    }
    return json
      ? String(decoding: try CampaignStatus.json(folder), as: UTF8.self) + "\n" : CampaignStatus.text(folder)
  }

  func run() throws {
    guard watch else { return print(try render(), terminator: "") }
    let terminal = isatty(STDOUT_FILENO) == 1
    while true {
      let text = try render()
      // Home and clear on a terminal; a time stamp between snapshots otherwise.
      let frame =
        terminal
        ? "\u{1B}[H\u{1B}[2J" + text : "--- \(ISO8601DateFormatter().string(from: Date()))\n" + text
      FileHandle.standardOutput.write(Data(frame.utf8))
      Thread.sleep(forTimeInterval: interval)
    }
  }
}
