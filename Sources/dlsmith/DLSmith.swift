import ArgumentParser

@main
struct DLSmith: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dlsmith",
    abstract: "Generate neural-network models and differentially test deep-learning compilers.",
    discussion: """
      Data goes to stdout, progress and logs to stderr. Exit codes: 0 ran and found nothing; \
      77 a finding was found or reproduced; 1 tool error; 64 usage error.
      """,
    version: "0.2.0",
    subcommands: [
      Generate.self, Run.self, Diff.self, Ops.self, Export.self, Import.self, ExportBug.self, Fuzz.self,
      Replay.self,
      Minimize.self, Status.self,
      Report.self, Merge.self, InferRules.self,
      Bench.self, Worker.self, Probe.self,
    ])
}
