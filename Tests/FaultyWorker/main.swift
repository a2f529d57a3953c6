// A backend built only for tests: it speaks the worker protocol and misbehaves on purpose when a
// model contains a chosen operator, so the campaign's handling of every failure kind can be tested.
//
//   dlsmith-faulty-worker --mode crash|abort|exit|hang|oom|wrong|flaky|stateful|error [--on OP]
//   dlsmith-faulty-worker --mode wrong-kernel --on OP [--only-dtype D]
//   dlsmith-faulty-worker --mode wrong-fusion --on PRODUCER[|PRODUCER...],CONSUMER[|CONSUMER...]
//   dlsmith-faulty-worker --mode wrong-shape-fusion --on PRODUCER[|PRODUCER...],CONSUMER[|CONSUMER...]
//   dlsmith-faulty-worker --mode wrong-after --on OP
//   dlsmith-faulty-worker --mode wrong-const --on OP
//   dlsmith-faulty-worker --mode wrong-shared --on PRODUCER,READER
//   dlsmith-faulty-worker --mode poisoned --on A,B,P
//   dlsmith-faulty-worker --mode first-decides --on A,B,Q,R
//
// Without --on it misbehaves on every model. Otherwise it answers like the reference.
//
// `wrong-kernel` and `wrong-fusion` inject one realistic cause each, to count how many buckets one
// cause yields: every node of OP computes its first output element one too high (a bool flips);
// or every CONSUMER node whose first input is computed by a PRODUCER node does (a wrong fused
// pair; either may list alternatives separated by `|`; `wrong-shape-fusion`: the consumer's first
// output gets a trailing dim of 1, its values unchanged: a wrong shape); or every OP node whose first input is
// computed by any node does (a rewrite that moves work into the producer, whatever it is);
// `wrong-const`: only where that input is computed from constants alone (a wrong constant fold); or, where a PRODUCER node's output is read by a READER
// node, every other reader of it (and the graph outputs) reads it one too high (a rewrite for one
// consumer that changes the value the others share, like OpenVINO's AbsSinking). `poisoned`: wrong
// on every model with A and B (a bug), and on every model with A once this process has run a model
// with P (state another model left behind). `first-decides`: wrong on every model with A and B,
// except in a process whose first model had Q, which is wrong only on models with A, B, Q and R
// (a target that picks its memory layouts by the first model it compiled, as OpenVINO's CPU plugin
// does: after that model, its smaller forms pass). The error
// propagates through the rest of the graph like a real kernel bug's.
import Backends
import Foundation
import Fuzzing
import IR
import Operators
import Tensors

/// The first element of `t` one too high (a bool flips): the injected kernel error.
func bumped(_ t: Tensor) -> Tensor {
  guard !t.storage.isEmpty else { return t }
  var t = t
  let x = t.storage[0]
  t.storage[0] = t.dtype == .bool ? 1 - x : t.dtype.rounded(x + 1)
  return t
}

/// `t` with a trailing dim of 1: the injected shape error.
func shapeBumped(_ t: Tensor) -> Tensor {
  Tensor(dtype: t.dtype, shape: t.shape + [1], storage: t.storage)
}

/// `spec` under the name `id`, with `reference` as its kernel (its own by default).
func renamed(
  _ spec: OperatorSpec, as id: OperatorSpec.ID,
  reference: (@Sendable (Attributes, [Tensor]) -> [Tensor])? = nil
) -> OperatorSpec {
  OperatorSpec(
    id: id, family: spec.family, doc: spec.doc, inputs: spec.inputs, outputTypes: spec.outputTypes,
    attributes: spec.attributes, traits: spec.traits, rule: spec.rule, domain: spec.domain,
    range: spec.range, reference: reference ?? spec.reference)
}

/// `spec` with a reference kernel whose first output is `bumped` (or `shapeBumped`), under the
/// name `id`.
func faulty(_ spec: OperatorSpec, as id: OperatorSpec.ID, shape: Bool = false) -> OperatorSpec {
  let kernel = spec.reference
  return renamed(spec, as: id) { attributes, inputs in
    var outputs = kernel(attributes, inputs)
    if !outputs.isEmpty { outputs[0] = shape ? shapeBumped(outputs[0]) : bumped(outputs[0]) }
    return outputs
  }
}

/// Runs `graph` on the reference with one injected cause (see the header).
func runInjected(
  _ graph: Graph, inputs: [Tensor], mode: String, trigger: String, onlyDType: DType? = nil
) throws(BackendError) -> [Tensor] {
  let fusedPrefix = "faulty-fused:"
  let shapeFault = mode == "wrong-shape-fusion"
  let mode = shapeFault ? "wrong-fusion" : mode
  var graph = graph
  let pair = trigger.split(separator: ",").map(String.init)
  if ["wrong-shared", "wrong-fusion"].contains(mode), pair.count != 2 {
    throw BackendError(.compile, "faulty: --mode \(mode) takes --on PRODUCER,CONSUMER")
  }
  if mode == "wrong-after" {
    let computed = Set(graph.nodes.flatMap(\.outputs))
    for i in graph.nodes.indices
    where graph.nodes[i].op == trigger && graph.nodes[i].inputs.first.map(computed.contains) == true {
      graph.nodes[i].op = fusedPrefix + trigger
    }
  }
  if mode == "wrong-const" {
    var folded = Set(graph.constants.map(\.id))
    let computed = Set(graph.nodes.flatMap(\.outputs))
    for i in graph.nodes.indices {
      let n = graph.nodes[i]
      if n.op == trigger, let first = n.inputs.first, computed.contains(first), folded.contains(first) {
        graph.nodes[i].op = fusedPrefix + trigger
      }
      if n.inputs.allSatisfy(folded.contains) { folded.formUnion(n.outputs) }
    }
  }
  if mode == "wrong-shared" {
    var next = graph.nextValueID
    var nodes: [Node] = []
    var replaced: [ValueID: ValueID] = [:]
    for n in graph.nodes {
      var n = n
      n.inputs = n.inputs.map { v in n.op == pair[1] ? v : replaced[v] ?? v }
      nodes.append(n)
      guard n.op == pair[0], let v = n.outputs.first,
        graph.nodes.contains(where: { $0.op == pair[1] && $0.inputs.contains(v) })
      else { continue }
      nodes.append(Node(op: fusedPrefix + "bump", inputs: [v], outputs: [next], types: [n.types[0]]))
      replaced[v] = next
      next += 1
    }
    graph.nodes = nodes
    graph.outputs = graph.outputs.map { replaced[$0] ?? $0 }
  }
  if mode == "wrong-fusion" {
    var producer: [ValueID: OperatorSpec.ID] = [:]
    for n in graph.nodes { for v in n.outputs { producer[v] = n.op } }
    let producers = Set(pair[0].split(separator: "|").map(String.init))
    let consumers = Set(pair[1].split(separator: "|").map(String.init))
    for i in graph.nodes.indices
    where consumers.contains(graph.nodes[i].op)
      && graph.nodes[i].inputs.first.flatMap({ producer[$0] }).map(producers.contains) == true
    {
      graph.nodes[i].op = fusedPrefix + graph.nodes[i].op
    }
  }
  let faultyLookup: OperatorLookup = { id in
    if id == fusedPrefix + "bump", let neg = Catalogue.spec("neg") {
      return OperatorSpec(
        id: id, family: neg.family, doc: "", inputs: neg.inputs, rule: neg.rule,
        reference: { _, inputs in [bumped(inputs[0])] })
    }
    if id.hasPrefix(fusedPrefix) {
      return Catalogue.spec(String(id.dropFirst(fusedPrefix.count))).map {
        faulty($0, as: id, shape: shapeFault)
      }
    }
    guard let spec = Catalogue.spec(id) else { return nil }
    return mode == "wrong-kernel" && id == trigger ? faulty(spec, as: id) : spec
  }
  // `--only-dtype D`: the wrong kernel is D's only (nodes whose first input is of another dtype
  // run the right one).
  if mode == "wrong-kernel", let onlyDType {
    let types = graph.types
    for i in graph.nodes.indices
    where graph.nodes[i].op == trigger
      && graph.nodes[i].inputs.first.flatMap({ types[$0]?.dtype }) != onlyDType
    {
      graph.nodes[i].op = "right:" + trigger
    }
  }
  let lookup: OperatorLookup = { id in
    if id.hasPrefix("right:") { return Catalogue.spec(String(id.dropFirst(6))).map { renamed($0, as: id) } }
    if shapeFault, id.hasPrefix(fusedPrefix) {
      return Catalogue.spec(String(id.dropFirst(fusedPrefix.count)))
    }
    return faultyLookup(id)
  }
  var outputs = try ReferenceBackend(operators: lookup).run(graph, inputs: inputs)
  if shapeFault {
    // The wrong shape propagates: every graph output computed from a fused node's output has it
    // (the reference checks each kernel's shape, so it is applied to the outputs).
    var tainted = Set<ValueID>()
    for n in graph.nodes where n.op.hasPrefix(fusedPrefix) || n.inputs.contains(where: tainted.contains) {
      tainted.formUnion(n.outputs)
    }
    for (i, v) in graph.outputs.enumerated() where tainted.contains(v) {
      outputs[i] = shapeBumped(outputs[i])
    }
  }
  return outputs
}

struct FaultyBackend: Backend {
  let mode: String
  let trigger: String?
  var onlyDType: DType? = nil
  let counter = Counter()
  var name: String { "faulty" }
  func supports(_ op: String, _ dtype: DType) -> Bool { true }

  final class Counter: @unchecked Sendable {
    var n = 0
    var seen = false
    /// `first-decides`: whether this process's first model had Q (nil before the first model).
    var firstHadQ: Bool? = nil
  }

  /// Modes that inject one cause into the model (`runInjected`).
  static let injected: Set = [
    "wrong-kernel", "wrong-fusion", "wrong-shape-fusion", "wrong-after", "wrong-const", "wrong-shared",
  ]
  /// Modes whose fault depends on the process's history, with the operators `--on` names.
  static let historyModes = ["poisoned": "A,B,P", "first-decides": "A,B,Q,R"]

  func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    if Self.injected.contains(mode) {
      return try runInjected(graph, inputs: inputs, mode: mode, trigger: trigger ?? "", onlyDType: onlyDType)
    }
    var outputs = try ReferenceBackend().run(graph, inputs: inputs)
    // Modes whose fault depends on what this process ran before: A's kernel is wrong (its first
    // output element one too high) while the mode's condition holds.
    if let usage = Self.historyModes[mode] {
      let ops = (trigger ?? "").split(separator: ",").map(String.init)
      guard ops.count == usage.split(separator: ",").count else {
        throw BackendError(.compile, "faulty: --mode \(mode) takes --on \(usage)")
      }
      let has = { (op: String) in graph.nodes.contains { $0.op == op } }
      let wrong: Bool
      if mode == "poisoned" {
        wrong = has(ops[0]) && (has(ops[1]) || counter.seen)
        if has(ops[2]) { counter.seen = true }
      } else {
        if counter.firstHadQ == nil { counter.firstHadQ = has(ops[2]) }
        wrong = (counter.firstHadQ == true ? ops : Array(ops.prefix(2))).allSatisfy(has)
      }
      return wrong ? try runInjected(graph, inputs: inputs, mode: "wrong-kernel", trigger: ops[0]) : outputs
    }
    guard trigger == nil || graph.nodes.contains(where: { $0.op == trigger }) else { return outputs }
    switch mode {
    case "crash":
      signal(SIGSEGV, SIG_DFL)
      raise(SIGSEGV)
    case "abort":
      signal(SIGABRT, SIG_DFL)
      abort()
    case "exit": exit(3)
    case "hang":
      signal(SIGTERM, SIG_IGN)  // a hang that ignores SIGTERM: only SIGKILL ends it
      while true { sleep(1) }
    case "oom":
      var hoard: [[UInt8]] = []
      while true {
        hoard.append([UInt8](repeating: 1, count: 64 << 20))
        usleep(10_000)
      }
    case "wrong":
      let x = outputs[0].storage[0]
      outputs[0].storage[0] = outputs[0].dtype == .bool ? 1 - x : outputs[0].dtype.rounded(x + 1)
    case "stateful":
      // Wrong only once this process has run a model with OP before (a cache that carries state
      // between models): a fresh worker's first such model is right.
      if counter.seen { outputs[0].storage[0] = outputs[0].dtype.rounded(outputs[0].storage[0] + 1) }
      counter.seen = true
    case "flaky":
      counter.n += 1
      if counter.n % 2 == 0 { outputs[0].storage[0] = outputs[0].dtype.rounded(outputs[0].storage[0] + 1) }
    case "error": throw BackendError(.compile, "faulty: internal error at node 0x7fff1234 (attempt 42)")
    default: break
    }
    return outputs
  }
}

var mode = "wrong"
var trigger: String?
var onlyDType: DType?
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
  if a == "--mode", let v = args.next() { mode = v }
  if a == "--on", let v = args.next() { trigger = v }
  if a == "--only-dtype", let v = args.next() { onlyDType = DType(rawValue: v) }
  if a == "--tag" { _ = args.next() }  // names a test's workers in `ps`; no effect
}
WorkerServer.serve(FaultyBackend(mode: mode, trigger: trigger, onlyDType: onlyDType))
