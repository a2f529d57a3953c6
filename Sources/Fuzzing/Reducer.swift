import Backends
import Foundation
import IR
import ONNX
import Operators
import Tensors

extension Signature {
  /// What minimization must preserve. For mismatches the operator (set) is left out (the final
  /// signature names the culprit or the minimized model's operators); for errors the blamed
  /// operator is left out when it is unknown (`op=?`: localization names it); everything else
  /// must match.
  public var minimizationKey: String {
    if kind == .error {
      let rest = state.split(separator: " ", maxSplits: 1).last.map(String.init) ?? state
      return Signature(kind: kind, stage: stage, backend: backend, state: rest).canonical
    }
    guard kind == .mismatch || kind == .unstable || kind == .referenceDisagreement else { return canonical }
    // A reference disagreement is a mismatch the consensus classified: replayed, it is a mismatch.
    let kind = self.kind == .referenceDisagreement ? FindingKind.mismatch : self.kind
    // The class, and the dtype for value classes (a wrong shape is not per dtype): the operators
    // (`op=`, `ops=`, `after=`) are what minimization and localization decide.
    let tokens = state.split(separator: " ")
    let valueClass = tokens.contains("class=values") || tokens.contains("class=rounding")
    let rest = tokens.filter { $0.hasPrefix("class=") || ($0.hasPrefix("dtype=") && valueClass) }.joined(
      separator: " ")
    return Signature(kind: kind, stage: stage, backend: backend, state: rest).canonical
  }

  /// The value of the `key=value` token of `state` (`class`, `dtype`, `op`, ...), if it has one.
  public func value(of key: String) -> String? {
    state.split(separator: " ").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
  }

  /// Whether `finding`, a judged but untriaged signature (a replayed instance), still shows the
  /// bug of the bucket signed `self`. Errors: the same minimization key. Mismatches (and the
  /// reference disagreements they were classified as): the same stage, backend and class (where
  /// the bucket names one), and for a value class the bucket's dtype where it names one, which is
  /// the finding's own or what the target computes it in (`computedAs`). A triaged signature names
  /// the culprit or the failing node and what it needs; an unminimized model does not say those
  /// without triage. Other kinds: the same signature.
  public func isReproduced(by finding: Signature, computedAs: [DType: DType]) -> Bool {
    switch kind {
    case .error: return minimizationKey == finding.minimizationKey
    case .mismatch, .unstable, .referenceDisagreement:
      let kind = self.kind == .referenceDisagreement ? FindingKind.mismatch : self.kind
      guard finding.kind == kind, finding.stage == stage, finding.backend == backend else { return false }
      // A bucket without a class (a node failing behind any computed input) takes any.
      if let c = value(of: "class"), c != finding.value(of: "class") { return false }
      guard let dtype = value(of: "dtype") else { return true }
      let own = finding.value(of: "dtype")
      return own == dtype || own.flatMap { DType(rawValue: $0) }.flatMap { computedAs[$0] }?.rawValue == dtype
    default: return canonical == finding.canonical
    }
  }
}

/// Minimizes a finding against a backend running in a worker, keeping its signature.
public struct Reducer {
  public var target: BackendTarget
  public var limits = WorkerLimits()
  public var judge = Judge()
  public var minimizer = Minimizer(maxSteps: 300)
  public var logPath: String
  /// The target's worker to run candidates on (a campaign lane's, idle while it triages): one
  /// process start for a whole triage instead of one per step. `nil`: each step starts its own.
  public var worker: WorkerProcess?
  /// Every target run in a process of its own, started for it and stopped after it (`worker` is
  /// not used): for a target whose answer depends on what its process ran before (OpenVINO's CPU
  /// plugin chooses memory layouts by what it compiled first), where minimizing on one process
  /// stalls or keeps models that fail only after the ones before them.
  public var freshProcessPerRun = false
  /// Target runs so far, shared by copies of this reducer (triage reports them as its steps).
  public let runs = RunCount()

  public final class RunCount: @unchecked Sendable {
    public internal(set) var value = 0
  }

  public init(target: BackendTarget, logPath: String) {
    self.target = target
    self.logPath = logPath
  }

  /// The shared worker, or a new one the caller stops (`owned`).
  func acquireWorker() -> (worker: WorkerProcess, owned: Bool) {
    if let worker { return (worker, false) }
    return (WorkerProcess(command: target.command, limits: limits, logPath: logPath), true)
  }

  /// The finding the target produces on (graph, inputs), if any.
  public func finding(_ graph: Graph, _ inputs: [Tensor], worker: WorkerProcess) -> Finding? {
    guard let values = try? ReferenceBackend().run(graph, inputs: inputs, keepAll: true).values else {
      return nil
    }
    runs.value += 1
    let used =
      freshProcessPerRun ? WorkerProcess(command: target.command, limits: limits, logPath: logPath) : worker
    defer { if freshProcessPerRun { used.stop() } }
    return judge.for(target).finding(
      target.run(on: used, graph: graph, model: graph.encoded(), inputs: inputs), target: target.name,
      graph: graph, values: values)
  }

  /// What running each node alone says about a mismatch.
  public enum Localization {
    /// This node alone, on its recorded inputs, reproduces the mismatch: the minimized model.
    case culprit(Graph, [Tensor], Finding)
    /// No node alone mismatches, but some differ within the oracle's rounding slack (`unstable`):
    /// the mismatch is rounding differences amplified downstream, not a wrong operator.
    case propagated(Finding)
    /// No node alone differs: the bug needs several nodes (a fusion, a layout change, ...).
    case composite
  }

  /// Runs each node alone (in order) on its recorded inputs: one target run per node. The first that
  /// reproduces the finding is the culprit: for a mismatch, any mismatch of the node alone (the
  /// culprit's own dtype and class sign the bucket); for other kinds, the same minimization key.
  public func localize(_ graph: Graph, inputs: [Tensor], keeping signature: Signature) -> Localization {
    guard graph.nodes.count > 1,
      let values = try? ReferenceBackend().run(graph, inputs: inputs, keepAll: true).values
    else { return .composite }
    let (worker, owned) = acquireWorker()
    defer { if owned { worker.stop() } }
    var unstable: Finding?
    // An error that names an ONNX operator tries that operator's nodes first.
    var order = Array(graph.nodes.indices)
    if signature.kind == .error, let first = signature.state.split(separator: " ").first,
      first.hasPrefix("op="), first != "op=?"
    {
      let blamed = String(first.dropFirst(3))
      order =
        order.filter { ONNXExport.mapping[graph.nodes[$0].op] == blamed }
        + order.filter { ONNXExport.mapping[graph.nodes[$0].op] != blamed }
    }
    let unpinned = Oracle.unpinnedValues(graph, inputs: inputs, values: values)
    for k in order {
      guard let (isolated, y) = Minimizer.isolated(k, in: graph, inputs, values: values, unpinned: unpinned)
      else { continue }
      guard (try? isolated.verify()) != nil, let f = finding(isolated, y, worker: worker) else { continue }
      // A mismatch is localized to the first node that alone mismatches in any way: a wrong add
      // that a comparison downstream turns into a wrong bool is the add, in its own dtype and class.
      let same =
        signature.kind == .mismatch
        ? f.signature.kind == .mismatch : f.signature.minimizationKey == signature.minimizationKey
      if same { return .culprit(isolated, y, f) }
      if f.signature.kind == .unstable && unstable == nil { unstable = f }
    }
    return unstable.map(Localization.propagated) ?? .composite
  }

  /// Where a composite mismatch starts: the model cut after each node `output` depends on (in
  /// order; that node's outputs the only outputs, what it does not need dropped), run on the
  /// target. The first cut that mismatches, when it is not the whole model: the values go wrong
  /// there and the rest only carries the error (a wrong conv seen through a comparison is the
  /// conv's, in its own dtype).
  /// For an error (`output` nil: the whole model fails), only a wrong shape or dtype counts: a
  /// compile-time check failing downstream of a wrong shape is that shape's consequence, while
  /// wrong values cannot fail a compile.
  /// When no cut alone mismatches (a rewrite that needs a node the cut drops: OpenVINO's
  /// AbsSinking rewires a Concat only while an Abs reads it), each node's outputs are added to
  /// the whole model's instead, and the first node whose own value mismatches there is where the
  /// values go wrong; minimization then drops what it does not need.
  public func firstDivergence(_ graph: Graph, inputs: [Tensor], output: ValueID?) -> (
    Graph, [Tensor], Finding
  )? {
    let outputs = output.map { [$0] } ?? graph.outputs
    let last = output.flatMap { v in graph.nodes.firstIndex { $0.outputs.contains(v) } }
    guard graph.nodes.count > 1, output == nil || last != nil else { return nil }
    let (worker, owned) = acquireWorker()
    defer { if owned { worker.stop() } }
    for k in Set(outputs.flatMap { graph.ancestors(of: $0) }).sorted()
    where k != last && !graph.nodes[k].outputs.contains(where: outputs.contains) {
      var cut = graph
      cut.outputs = graph.nodes[k].outputs
      let (g, x) = Minimizer.withoutDeadCode(cut, inputs: inputs)
      let r = Minimizer.renumbered(g)
      guard let f = finding(r, x, worker: worker), f.signature.kind == .mismatch,
        output != nil || [.shape, .dtype, .outputCount].contains(f.discrepancy?.kind)
      else { continue }
      // An earlier node of the cut may already be wrong there, once a node the smaller cuts
      // dropped reads it too.
      if output != nil, let d = f.discrepancy, let earlier = exposed(r, x, upTo: d.output, worker: worker) {
        return earlier
      }
      return (r, x, f)
    }
    guard let output else { return nil }
    return exposed(graph, inputs, upTo: output, worker: worker)
  }

  /// The first node `output` depends on (its producer excluded) whose own value mismatches when
  /// its outputs are added to the model's: the model with them added, and that finding.
  func exposed(_ graph: Graph, _ inputs: [Tensor], upTo output: ValueID, worker: WorkerProcess) -> (
    Graph, [Tensor], Finding
  )? {
    guard let last = graph.nodes.firstIndex(where: { $0.outputs.contains(output) }) else { return nil }
    for k in graph.ancestors(of: output)
    where k != last && !graph.nodes[k].outputs.contains(where: graph.outputs.contains) {
      var g = graph
      g.outputs = graph.nodes[k].outputs + graph.outputs
      guard let f = finding(g, inputs, worker: worker), f.signature.kind == .mismatch,
        let d = f.discrepancy, graph.nodes[k].outputs.contains(d.output)
      else { continue }
      return (g, inputs, f)
    }
    return nil
  }

  /// The cause test of a composite mismatch: the node producing the mismatching `output`, alone
  /// behind another producer (`Minimizer.behind`: `neg`, then `abs`). The first such model that
  /// still mismatches with the same minimization key (class, and dtype for values), with its
  /// finding: the node fails behind any computed input, whatever computes it.
  public func consumer(_ graph: Graph, inputs: [Tensor], output: ValueID, keeping signature: Signature)
    -> (Graph, [Tensor], Finding)?
  {
    guard graph.nodes.count > 1, let k = graph.nodes.firstIndex(where: { $0.outputs.contains(output) }),
      let values = try? ReferenceBackend().run(graph, inputs: inputs, keepAll: true).values
    else { return nil }
    let (worker, owned) = acquireWorker()
    defer { if owned { worker.stop() } }
    for producer in ["neg", "abs"] {
      guard
        let (g, x) = Minimizer.behind(
          producer, k, in: graph, inputs, values: values, operators: minimizer.operators),
        let f = finding(g, x, worker: worker), f.signature.minimizationKey == signature.minimizationKey
      else { continue }
      return (g, x, f)
    }
    return nil
  }

  /// Whether the one-node model `graph` still mismatches on the target (values or rounding) with its
  /// `from` inputs and constants in `to`, the precision the probe says the target computes `from`
  /// in: then the failing kernel is `to`'s (OpenVINO's f64 convolution bug is its f32 one), else
  /// `from`'s own (its bf16 CumSum, which f32 does not share).
  public func failsConverted(_ graph: Graph, inputs: [Tensor], from: DType, to: DType) -> Bool {
    guard graph.nodes.count == 1 else { return false }
    var g = graph
    for i in g.inputs.indices where g.inputs[i].type.dtype == from { g.inputs[i].type.dtype = to }
    for i in g.constants.indices where g.constants[i].type.dtype == from {
      g.constants[i].type.dtype = to
      g.constants[i].data = g.constants[i].data?.map(to.rounded)
    }
    guard let converted = minimizer.retyped(g), (try? converted.verify(operators: minimizer.operators)) != nil
    else { return false }
    let x = inputs.map { t in
      t.dtype == from ? Tensor(dtype: to, shape: t.shape, storage: t.storage.map(to.rounded)) : t
    }
    let (worker, owned) = acquireWorker()
    defer { if owned { worker.stop() } }
    guard let f = finding(converted, x, worker: worker), f.signature.kind == .mismatch else { return false }
    return f.discrepancy?.kind == .values || f.discrepancy?.kind == .rounding
  }

  /// The canonical form of a composite mismatch: each node (in order) replaced by a canonical
  /// operator that computes the same values on the recorded inputs (`Reducer.equivalents`: a
  /// single-input layout node by `reshape`, else `expand`, to its output shape; a
  /// `global_avg_pool` by `reduce_mean` over its spatial axes), kept when the target still
  /// mismatches at the same output with the same minimization key. The model with every accepted
  /// substitute and its finding, or `nil` if none was. One layout bug that shows through Flatten,
  /// Unsqueeze and Reshape (OpenVINO turns them into Reshapes before its passes run), or one
  /// per-channel bug after a mean whether a ReduceMean or a GlobalAveragePool computes it, is one
  /// bucket. A node whose output is a scalar has no reshape form (a reshape's shape has 1 to 4
  /// entries) and keeps its own operator. For a wrong shape, the node that computes it may also
  /// become another operator with its shape rule (`shapeEquivalents`), whatever values that
  /// computes.
  public func canonical(_ graph: Graph, inputs: [Tensor], output: ValueID, keeping signature: Signature)
    -> (Graph, [Tensor], Finding)?
  {
    guard let want = try? ReferenceBackend().run(graph, inputs: inputs, keepAll: true).values else {
      return nil
    }
    let (worker, owned) = acquireWorker()
    defer { if owned { worker.stop() } }
    var current = graph
    var accepted: Finding?
    let wrongShape = signature.value(of: "class") == "shape"
    for k in graph.nodes.indices {
      // The node whose output has the wrong shape: any operator with its shape rule computes that
      // shape, so values need not agree there.
      let shapeOnly = wrongShape && graph.nodes[k].outputs.contains(output)
      // The value-preserving forms first (a Flatten giving a wrong shape is a Reshape's bucket).
      let substitutes =
        Reducer.equivalents(of: current.nodes[k], operators: minimizer.operators)
        + (shapeOnly ? Reducer.shapeEquivalents(of: current.nodes[k], operators: minimizer.operators) : [])
      for substitute in substitutes {
        var g = current
        g.nodes[k] = substitute
        guard (try? g.verify(operators: minimizer.operators)) != nil,
          let v = try? ReferenceBackend().run(g, inputs: inputs, keepAll: true).values,
          shapeOnly || g.nodes[k].outputs.allSatisfy({ v[$0] == want[$0] }),
          let f = finding(g, inputs, worker: worker),
          f.signature.minimizationKey == signature.minimizationKey,
          f.discrepancy?.output == output
        else { continue }
        current = g
        accepted = f
        break
      }
    }
    return accepted.map { (current, inputs, $0) }
  }

  /// `graph` with every constant made a graph input carrying its values (after the inputs, in
  /// constant order), or nil if it has no constant.
  static func constantsAsInputs(_ graph: Graph, inputs: [Tensor]) -> (Graph, [Tensor])? {
    guard !graph.constants.isEmpty else { return nil }
    var g = graph
    var x = inputs
    for c in graph.constants {
      g.inputs.append(GraphInput(id: c.id, type: c.type, range: c.range))
      x.append(c.tensor)
    }
    g.constants = []
    return (g, x)
  }

  /// Whether a mismatch of a model without graph inputs needs its constants to be constants: with
  /// the same values given as graph inputs, the target no longer mismatches at `output` with the
  /// same minimization key. Then the cause is the target folding the constant subgraph (OpenVINO
  /// drops the Abs of a folded ReduceMin and of a folded Slice alike: `after=const`, one bucket),
  /// not the operators the folded values came through.
  public func needsConstants(_ graph: Graph, inputs: [Tensor], output: ValueID, keeping signature: Signature)
    -> Bool
  {
    guard graph.inputs.isEmpty, let (g, x) = Reducer.constantsAsInputs(graph, inputs: inputs),
      (try? g.verify(operators: minimizer.operators)) != nil
    else { return false }
    let (worker, owned) = acquireWorker()
    defer { if owned { worker.stop() } }
    guard let f = finding(g, x, worker: worker) else { return true }
    return !(f.signature.minimizationKey == signature.minimizationKey && f.discrepancy?.output == output)
  }

  /// For a node that computes a wrong shape: the operators before it, in name order, of its family
  /// with its inputs and attribute names (`reduce_max` for `reduce_sum`; `argmax` has `axis`, not
  /// `axes`), stopping at its own. The graph's verification checks each computes the node's output
  /// type. A wrong shape comes from the shape computation the operators share, so the first one
  /// under which the target still gives it signs the bucket: one bucket for ReduceMax and
  /// ReduceSum dropping a kept axis alike after a Transpose.
  static func shapeEquivalents(of original: Node, operators: OperatorLookup) -> [Node] {
    guard let spec = operators(original.op) else { return [] }
    let names = Set(spec.attributes.map(\.name))
    let peers = Catalogue.all.filter {
      $0.family == spec.family && $0.inputs.count == spec.inputs.count
        && $0.outputTypes.count == spec.outputTypes.count && Set($0.attributes.map(\.name)) == names
        && operators($0.id) != nil
    }.map(\.id).sorted()
    guard peers.contains(original.op) else { return [] }
    return peers.prefix { $0 != original.op }.map {
      Node(
        op: $0, inputs: original.inputs, outputs: original.outputs, attributes: original.attributes,
        types: original.types)
    }
  }

  /// Canonical operators that may compute what `original` computes (the caller checks the
  /// values): a single-input, single-output data-movement node (shape and indexing families) by
  /// `reshape`, then `expand`, to its output shape; a `global_avg_pool` by `reduce_mean` over its
  /// spatial axes, keeping them.
  static func equivalents(of original: Node, operators: OperatorLookup) -> [Node] {
    guard original.inputs.count == 1, original.outputs.count == 1, let type = original.types.first,
      let family = operators(original.op)?.family
    else { return [] }
    func node(_ op: String, _ attributes: [String: AttributeValue]) -> Node {
      Node(
        op: op, inputs: original.inputs, outputs: original.outputs, attributes: Attributes(attributes),
        types: original.types)
    }
    if original.op == "global_avg_pool" {
      return [node("reduce_mean", ["axes": .ints(Array(2..<type.shape.count)), "keepdims": .int(1)])]
    }
    guard family == .shape || family == .indexing else { return [] }
    return ["reshape", "expand"].filter { $0 != original.op }.map { node($0, ["shape": .ints(type.shape)]) }
  }

  /// Minimizes while the finding keeps `signature`'s minimization key. `progress` receives every
  /// accepted step (for checkpoints). Returns the result and its final signature.
  /// `failingAt`: for a mismatch, the operator whose output must stay the (first) wrong one, so
  /// the minimizer does not drift from where the values go wrong to a node that only carries it.
  public func reduce(
    _ graph: Graph, inputs: [Tensor], keeping signature: Signature, failingAt op: String? = nil,
    progress: (Graph, [Tensor], Int) -> Void = { _, _, _ in }
  ) -> (Minimized, Finding?) {
    let (worker, owned) = acquireWorker()
    defer { if owned { worker.stop() } }
    let key = signature.minimizationKey
    let result = minimizer.minimize(
      graph, inputs: inputs,
      keeping: { g, i in
        guard let f = finding(g, i, worker: worker), f.signature.minimizationKey == key else { return false }
        guard let op else { return true }
        return f.discrepancy.flatMap { d in g.nodes.first { $0.outputs.contains(d.output) }?.op } == op
      }, progress: progress)
    return (result, finding(result.graph, result.inputs, worker: worker))
  }
}
