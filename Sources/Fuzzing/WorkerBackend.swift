import Backends
import Foundation
import IR
import Operators
import Tensors

/// A `Backend` whose work happens in a worker process: lets `diff`, `run` and `bench diff` use
/// external targets (and isolated built-in ones) through the same interface as in-process backends.
///
/// One persistent worker, restarted after failures. Worker failures map to `BackendError`s:
/// unsupported models to `BackendError.unsupported`, crashes, exits,
/// hangs and memory overruns to execute errors naming the symptom.
public final class WorkerBackend: Backend, @unchecked Sendable {
  public let target: BackendTarget
  private let worker: WorkerProcess
  private let lock = NSLock()

  public init(target: BackendTarget, limits: WorkerLimits = WorkerLimits(), logPath: String) {
    self.target = target
    worker = WorkerProcess(command: target.command, limits: limits, logPath: logPath)
  }

  deinit { worker.stop() }

  public var name: String { target.name }
  public func supports(_ op: OperatorSpec.ID, _ dtype: DType) -> Bool { true }

  public func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    lock.lock()
    let outcome = target.run(on: worker, graph: graph, model: graph.encoded(), inputs: inputs)
    lock.unlock()
    switch outcome {
    case .outputs(let outs): return outs
    case .unsupported(let why): throw .unsupported(why)
    case .error(let stage, let message):
      throw BackendError(BackendError.Stage(rawValue: stage) ?? .execute, message)
    case .crash(let stage, let signal):
      throw BackendError(
        BackendError.Stage(rawValue: stage) ?? .execute, "worker killed by \(Signature.signalName(signal))")
    case .exit(let stage, let code):
      throw BackendError(BackendError.Stage(rawValue: stage) ?? .execute, "worker exited with status \(code)")
    case .hang(let stage):
      throw BackendError(BackendError.Stage(rawValue: stage) ?? .execute, "worker timed out")
    case .oom(let stage, let rss):
      throw BackendError(
        BackendError.Stage(rawValue: stage) ?? .execute, "worker over the memory limit (\(rss) MiB)")
    }
  }
}
