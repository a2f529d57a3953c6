// A backend built only for tests: it speaks the worker protocol and misbehaves on purpose when a
// model contains a chosen operator, so the campaign's handling of every failure kind can be tested.
//
//   dlsmith-faulty-worker --mode crash|abort|exit|hang|oom|wrong|flaky|error [--on OP]
//
// Without --on it misbehaves on every model. Otherwise it answers like the reference.
import Backends
import Foundation
import Fuzzing
import IR
import Tensors

struct FaultyBackend: Backend {
  let mode: String
  let trigger: String?
  let counter = Counter()
  var name: String { "faulty" }
  func supports(_ op: String, _ dtype: DType) -> Bool { true }

  final class Counter: @unchecked Sendable {
    var n = 0
  }

  func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    var outputs = try ReferenceBackend().run(graph, inputs: inputs)
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
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
  if a == "--mode", let v = args.next() { mode = v }
  if a == "--on", let v = args.next() { trigger = v }
}
WorkerServer.serve(FaultyBackend(mode: mode, trigger: trigger))
