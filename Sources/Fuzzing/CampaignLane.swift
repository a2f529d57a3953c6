import Backends
import Foundation
import Generation
import IR
import Tensors

/// One lane of a campaign: its own generator and one worker per target; takes model indices,
/// generates (or grows a corpus model), runs every target, confirms hangs and mismatches, triages
/// and publishes. Lanes share the journal, publisher, triage and counters.
struct CampaignLane {
  let lane: Int
  let config: CampaignConfig
  let targets: [BackendTarget]
  let journal: CampaignJournal
  let publisher: CampaignPublisher
  let triage: CampaignTriage
  let counters: CampaignCounters
  let failpoint: Failpoint
  /// The next model index, `nil` when the campaign stops.
  let next: () -> Int?
  let requestStop: () -> Void
  let writeStats: () -> Void
  /// The grafted patterns by name (built once per campaign, read for every model's rewrites).
  let patterns: [String: Pattern]

  var shardState: String { journal.shardState }

  func run() {
    var generator = Generator(options: config.generator)
    let workers = targets.map { t in
      WorkerProcess(
        command: t.command, limits: config.limits, logPath: "\(shardState)/worker-\(lane)-\(t.name).log")
    }
    defer {
      for w in workers { w.stop() }
      counters.update { $0.workerRestarts += workers.map(\.restarts).reduce(0, +) }
    }
    var lastStats = Date()
    while let k = next() {
      journal.append("start \(k)")
      failpoint("after-journal")
      let seed = Campaign.modelSeed(config.seed, shard: config.shardIndex, k: k)
      var graph = generator.generate(seed: seed)
      var parent: String?
      // A quarter of the models grow a corpus model instead (mutation); the choice is a function of
      // the model seed and the corpus as it was when the campaign started.
      var pick = SplitMix64(seed: seed ^ 0xC0DE)
      let corpusPaths = journal.corpusPaths
      if !corpusPaths.isEmpty, pick.chance(config.mutationRate) {
        let path = corpusPaths[pick.int(in: 0...(corpusPaths.count - 1))]
        if let base = try? Graph(contentsOf: path), let grown = generator.extend(base, seed: seed) {
          graph = grown
          parent = path
        }
      }
      let inputs = graph.sampleInputs(seed: seed)
      let found = runModel(k: k, seed: seed, graph: graph, inputs: inputs, workers: workers, parent: parent)
      journal.append("done \(k)")
      counters.update { stats in
        stats.modelsGenerated += 1
        stats.lastCompleted = Swift.max(stats.lastCompleted, k)
      }
      if found && config.stopOnFirst { requestStop() }
      if Date().timeIntervalSince(lastStats) > 2 {
        writeStats()
        lastStats = Date()
      }
    }
  }

  /// Runs one model on every target; returns whether a finding was recorded.
  func runModel(
    k: Int, seed: UInt64, graph: Graph, inputs: [Tensor], workers: [WorkerProcess], parent: String? = nil
  ) -> Bool {
    let differential = Differential(oracle: Oracle(tolerances: config.tolerances))
    let model = graph.encoded()
    let onnx = targets.contains(where: \.sendsONNX) ? BackendTarget.exportONNX(graph) : nil
    let values: [ValueID: Tensor]
    var oracleRun: (index: Int, outcome: WorkerOutcome)?
    if let name = config.oracleTarget, let i = targets.firstIndex(where: { $0.name == name }) {
      let outcome = targets[i].run(
        on: workers[i], graph: graph, model: model, inputs: inputs, onnx: onnx)
      oracleRun = (i, outcome)
      if case .outputs(let ts) = outcome, ts.count == graph.outputs.count {
        values = Dictionary(zip(graph.outputs, ts), uniquingKeysWith: { a, _ in a })
      } else {
        values = [:]
      }
    } else {
      guard let v = try? differential.referenceValues(graph, inputs: inputs) else {
        config.log("model \(k) (seed \(seed)): the reference cannot run it; skipped (a generator bug)")
        return false
      }
      values = v
    }
    if !values.isEmpty { counters.update { $0.modelsValid += 1 } }
    let special = graph.hasEdgeValues
    if special { counters.update { $0.specialValueModels = ($0.specialValueModels ?? 0) + 1 } }
    let expected = graph.outputs.compactMap { values[$0] }
    // Which nodes the targets rewrote: asked for every model with grafted patterns (to count which
    // fired) and every 8th model (the share of models a target's optimizer rewrites anything in).
    let askRewrites = graph.nodes.contains { $0.pattern != nil } || k % 8 == 0
    var found = false
    for (index, (target, worker)) in zip(targets, workers).enumerated() {
      // Without expected values (the oracle target failed), only the oracle's own failure counts.
      if values.isEmpty && oracleRun?.index != index { continue }
      var outcome =
        oracleRun?.index == index
        ? oracleRun!.outcome
        : target.run(
          on: worker, graph: graph, model: model, inputs: inputs, onnx: onnx, rewrites: askRewrites)
      counters.update { $0.execs[target.name, default: 0] += 1 }
      if askRewrites, oracleRun?.index != index, let rewritten = worker.lastRewritten {
        counters.update {
          $0.recordRewrites(target: target.name, graph: graph, rewritten: rewritten, patterns: patterns)
        }
      }
      if case .hang(let stage) = outcome {
        // Confirm on a fresh worker with twice the time, as AFL++ does.
        var longer = config.limits
        longer.compileTimeout *= 2
        longer.executeTimeout *= 2
        let confirm = WorkerProcess(
          command: target.command, limits: longer, logPath: worker.logPath + ".confirm")
        let again = target.run(on: confirm, graph: graph, model: model, inputs: inputs, onnx: onnx)
        confirm.stop()
        counters.update { $0.hangConfirmations += 1 }
        switch again {
        case .hang:
          outcome = .hang(stage: stage)
        case .outputs, .unsupported:
          config.log(
            "model \(k): \(target.name) hung once at \(stage) but not on the rerun (flaky); not saved")
          continue
        default:
          // The rerun failed another way (a slow allocation that hit the clock first and the memory
          // limit on the rerun, say): the rerun's outcome is the finding.
          outcome = again
        }
      }
      if config.equivalence, case .outputs(let first) = outcome, first.count == graph.outputs.count {
        let reference = config.oracleTarget == nil ? values : nil
        if checkEquivalence(
          k: k, seed: seed, graph: graph, inputs: inputs, target: target, worker: worker, first: first,
          reference: reference)
        {
          found = true
        }
      }
      if case .unsupported = outcome { counters.update { $0.unsupported += 1 } }
      guard
        let finding = Judge(oracle: triage.oracle(for: target)).finding(
          outcome, target: target.name, graph: graph, values: values)
      else {
        continue
      }
      if special {
        let unstable = finding.signature.kind == .unstable
        counters.update { s in
          if unstable {
            s.specialValueUnstable = s.specialValueUnstable ?? [:]
            s.specialValueUnstable![target.name, default: 0] += 1
          } else {
            s.specialValueFindings = s.specialValueFindings ?? [:]
            s.specialValueFindings![target.name, default: 0] += 1
          }
        }
      }
      if finding.signature.kind == .unstable && !config.saveUnstable { continue }
      if finding.signature.kind == .mismatch,
        case .outputs(let again) = target.run(
          on: worker, graph: graph, model: model, inputs: inputs, onnx: onnx),
        Judge(oracle: triage.oracle(for: target)).finding(
          .outputs(again), target: target.name, graph: graph, values: values) == nil
      {
        // The same worker gave a correct answer on a rerun: flaky output, not saved as a bug.
        counters.update { $0.flaky += 1 }
        config.log(
          "model \(k): \(target.name) gave a wrong answer once and a right one on the rerun (flaky); not saved"
        )
        continue
      }
      // Triage: localize, minimize (the first instance of every cause, within the budget), sign
      // by cause, and ask independent implementations.
      var kept = finding
      var minimized: Minimized?
      var evidence: TriageEvidence?
      // The instance's log is the target's stderr for this model, before triage runs more on it.
      let log = worker.logTail()
      if config.minimizeMismatches && config.oracleTarget == nil {
        (kept, minimized, evidence) = triage(
          finding, graph: graph, inputs: inputs, target: target, worker: worker)
        if kept.signature.kind == .unstable && !config.saveUnstable { continue }
      }
      found = found || kept.signature.kind.isTargetBug
      publisher.record(
        kept, k: k, seed: seed, graph: graph, inputs: inputs, expected: expected, target: target,
        log: log, minimized: minimized, evidence: evidence)
    }
    publisher.keepIfNovel(graph, seed: seed)
    return found
  }

  /// `--equivalence`: runs `target` on one equivalent form of `graph` (one rewrite; half the
  /// models draw it among the exact kinds only) and compares the target with itself
  /// (`EquivalenceOracle`); a confirmed disagreement is a `mismatch` finding whose instance holds
  /// both models (`model.dlsmith.json`, `form.dlsmith.json`, `rewrites.txt`). A failure on the form
  /// alone (error, crash) is a finding on the form. Returns whether a target bug was recorded.
  func checkEquivalence(
    k: Int, seed: UInt64, graph: Graph, inputs: [Tensor], target: BackendTarget, worker: WorkerProcess,
    first: [Tensor], reference: [ValueID: Tensor]?
  ) -> Bool {
    var rng = SplitMix64(seed: seed ^ 0xE0_1F_A1)
    let exactOnly = rng.chance(0.5)
    let forms = EquivalentForms(kinds: exactOnly ? RewriteKind.exact : RewriteKind.allCases, maxRewrites: 1)
    let form = forms.form(of: graph, rng: &rng)
    guard let rewrite = form.rewrites.first else { return false }
    func count(_ key: String) {
      counters.update { s in
        var e = s.equivalence ?? [:]
        e[target.name, default: [:]][key, default: 0] += 1
        s.equivalence = e
      }
    }
    count("rewrite " + rewrite.kind.rawValue)
    let model = form.graph.encoded()
    let onnx = target.sendsONNX ? BackendTarget.exportONNX(form.graph) : nil
    let outcome = target.run(on: worker, graph: form.graph, model: model, inputs: inputs, onnx: onnx)
    counters.update { $0.execs[target.name, default: 0] += 1 }
    let oracle = EquivalenceOracle(oracle: triage.oracle(for: target))
    switch outcome {
    case .outputs(let second):
      let verdict = oracle.verdict(
        original: graph, form: form, first: first, second: second, reference: reference)
      count(verdict.label)
      guard case .mismatch(let d) = verdict else { return false }
      // The same form again: a target that now agrees with itself was flaky, not wrong.
      if case .outputs(let again) = target.run(
        on: worker, graph: form.graph, model: model, inputs: inputs, onnx: onnx),
        oracle.verdict(original: graph, form: form, first: first, second: again, reference: reference)
          == .agree
      {
        count("flaky")
        return false
      }
      let sig = Signature(
        kind: .mismatch, stage: "execute", backend: target.name,
        state: Signature.equivalentFormPrefix
          + "rewrite=\(rewrite.kind.rawValue) dtype=\(d.dtype) class=\(d.kind.rawValue)")
      let finding = Finding(
        signature: sig,
        message: "\(target.name) disagrees with itself on an equivalent form: \(rewrite)\n"
          + "expected: its own output on the original model; got: its output on the form\n\(d)",
        actual: second, outcome: outcome, discrepancy: d)
      publisher.record(
        finding, k: k, seed: seed, graph: graph, inputs: inputs, expected: first, target: target,
        log: worker.logTail(), form: form)
      return true
    case .unsupported:
      count("unsupported")
      return false
    case .hang:
      // Not confirmed here (the original ran in time): counted, not saved.
      count("hang")
      return false
    default:
      count("failed")
      guard
        let f = Judge(oracle: triage.oracle(for: target)).finding(
          outcome, target: target.name, graph: form.graph, values: [:])
      else { return false }
      publisher.record(
        f, k: k, seed: seed, graph: form.graph, inputs: inputs, expected: first, target: target,
        log: worker.logTail(), form: form)
      return f.signature.kind.isTargetBug
    }
  }
}
