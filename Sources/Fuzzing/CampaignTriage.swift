import Foundation
import IR
import Tensors

/// The campaign's use of the one triage pipeline (`Triage`): per-target oracles, the cache of
/// triaged signatures, the minimization budget and the independent implementations' workers.
final class CampaignTriage: @unchecked Sendable {
  let config: CampaignConfig
  private let lock = NSLock()
  private var triaged: [String: (signature: Signature, evidence: TriageEvidence)] = [:]
  private var minimizations = 0
  private var minimizationSeconds = 0.0
  private let started: Date
  /// Independent implementations' workers, kept between triages.
  private let consensusWorkers = WorkerPool()

  init(config: CampaignConfig, started: Date) {
    self.config = config
    self.started = started
  }

  func stop() { consensusWorkers.stopAll() }

  /// The oracle for one target: external (ONNX) targets may differ by one quantization step.
  func oracle(for target: BackendTarget) -> Oracle {
    Oracle(tolerances: config.tolerances).for(target)
  }

  /// Triages a finding (`Triage`). Results are cached by the unminimized signature, so a cause
  /// seen again is signed without another run; only the first instance of a bucket is minimized
  /// (`Triage.isNew`), and minimizing is budgeted (the first 50 freely, then up to a third of the
  /// run time), so a target that is wrong on every model does not stall the campaign: past the
  /// budget a finding whose signature is new is minimized with 60 target runs at most, and one
  /// whose signature has a bucket is localized and signed only.
  func callAsFunction(
    _ f: Finding, graph: Graph, inputs: [Tensor], target: BackendTarget, worker: WorkerProcess
  ) -> (Finding, Minimized?, TriageEvidence?) {
    lock.lock()
    let cached = triaged[f.signature.hash]
    let budget = minimizations < 50 || minimizationSeconds < Date().timeIntervalSince(started) / 3
    if cached == nil && budget { minimizations += 1 }
    lock.unlock()
    if let cached {
      var g = f
      g.signature = cached.signature
      return (g, nil, cached.evidence)
    }
    var t = Triage(
      target: target, judge: Judge(oracle: oracle(for: target)), logPath: worker.logPath + ".triage")
    t.worker = worker
    t.pool = consensusWorkers
    t.limits = config.limits
    // Past the budget a finding is still minimized, briefly, when its signature would open a new
    // bucket (`isNew`): signed unminimized, `after=` collects every producer's family and one cause
    // opens several buckets (11 of 25 in a pattern campaign on OpenVINO, session 9).
    if !budget { t.maxSteps = 60 }
    let crashes = config.directory + "/Crashes/"
    t.isNew = { !FileManager.default.fileExists(atPath: crashes + $0.short) }
    t.consensus = config.consensus[target.name] ?? []
    let began = Date()
    let result = t.run(f, graph: graph, inputs: inputs)
    lock.lock()
    minimizationSeconds += Date().timeIntervalSince(began)
    triaged[f.signature.hash] = (result.finding.signature, result.evidence)
    lock.unlock()
    config.log("triage: \(result.finding.signature.title): \(result.evidence.summary)")
    return (result.finding, result.minimized, result.evidence)
  }
}
