import ArgumentParser
import Foundation
import Fuzzing

struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Report on a campaign folder: Markdown to stdout, or an HTML page with charts (-o report.html).",
    discussion: """
      Markdown (the default) lists the buckets, one table row each, then a section per bucket. HTML \
      is one self-contained page: a summary, charts over time from the shards' plot_data.csv, \
      coverage and bucket charts, and the bucket table with links relative to the report's folder.
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case markdown, html
  }

  @Argument(help: "Campaign folder.") var directory: String = "."
  @Option(
    name: .shortAndLong,
    help: "Write the report to this file (atomically) instead of stdout; its path goes to stderr.")
  var output: String?
  @Option(help: "Report format; default: html when --output ends in .html or .htm, else markdown.")
  var format: Format?

  func validate() throws {
    if let output {
      let folder = (output as NSString).deletingLastPathComponent
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isDirectory),
        isDirectory.boolValue
      else { throw ValidationError("--output \(output): no such folder \(folder)") }
    }
  }

  func run() throws {
    let folder = try CampaignFolder.read(directory)
    let ext = (output.map { ($0 as NSString).pathExtension.lowercased() }) ?? ""
    let text: String
    switch format ?? (["html", "htm"].contains(ext) ? .html : .markdown) {
    case .markdown:
      text = MarkdownReport.render(folder)
    case .html:
      text = HTMLReport.render(
        folder,
        linkBase: HTMLReport.linkBase(
          report: output, campaign: directory, cwd: FileManager.default.currentDirectoryPath))
    }
    guard let output else {
      print(text, terminator: "")
      return
    }
    try Workdir.replaceFile(Data(text.utf8), at: output)
    FileHandle.standardError.write(Data("\(output)\n".utf8))
  }
}
