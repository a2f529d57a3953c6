import Foundation
import IR
import Supervision
import Tensors

/// How a backend run in a worker process ended. Every way a target can misbehave is a value here;
/// none of them can take the campaign down.
public enum WorkerOutcome: Sendable, Equatable {
  case outputs([Tensor])
  case error(stage: String, message: String)
  case unsupported(String)
  /// Killed by a signal (SIGSEGV, SIGABRT, ...).
  case crash(stage: String, signal: Int32)
  /// Exited on its own with this status while a request was pending.
  case exit(stage: String, code: Int32)
  case hang(stage: String)
  case oom(stage: String, rssMB: Int)
}

/// Limits applied to one worker.
public struct WorkerLimits: Sendable {
  public var compileTimeout: Double = 30
  public var executeTimeout: Double = 20
  public var rssLimitMB = 4096
  /// Recycle the process after this many models.
  public var maxModels = 500
  /// Grace between SIGTERM and SIGKILL.
  public var killGrace: Double = 0.5
  public init() {}
}

/// One worker process (`dlsmith worker ...` or any program speaking `WorkerProtocol`), run by a
/// `Supervisor`.
///
/// Started lazily, recycled after `maxModels` models and after any failure. The supervisor gives
/// the worker its own process group and its death with the campaign; on a timeout (per stage: the
/// worker's `compiled` message starts the execute stage's clock) or an RSS overrun it ends the
/// whole group and reaps it, so no orphans or zombies remain. The worker's stderr goes to a log
/// file whose tail is attached to findings.
public final class WorkerProcess {
  public let command: [String]
  public let limits: WorkerLimits
  public let logPath: String
  private let supervisor: Supervisor
  /// What the last `run` with `rewrites` learned: the output names of the nodes the target rewrote,
  /// or `nil` (not asked, the run failed, or the worker cannot tell).
  public private(set) var lastRewritten: [String]?

  public init(command: [String], limits: WorkerLimits, logPath: String) {
    self.command = command
    self.limits = limits
    self.logPath = logPath
    supervisor = Supervisor(
      command: command,
      limits: SupervisorLimits(
        rssLimitMB: limits.rssLimitMB, maxRequests: limits.maxModels, killGrace: limits.killGrace),
      logPath: logPath)
  }

  /// Worker processes started so far.
  public var restarts: Int { supervisor.starts }

  public var pid: Int32? { supervisor.pid }

  /// Kills the worker's process group and reaps it.
  public func stop() { supervisor.stop() }

  /// The last `limit` bytes of the worker's stderr log.
  public func logTail(limit: Int = 64 * 1024) -> String { supervisor.logTail(limit: limit) }

  /// Runs one model. Never throws for a misbehaving target: the outcome says what happened.
  /// `onnx` is the model's ONNX bytes, sent along for workers that need them.
  /// With `rewrites`, the worker also reports the nodes its optimizer rewrote (`lastRewritten`).
  public func run(model: Data, inputs: [Tensor], onnx: Data? = nil, rewrites: Bool = false) -> WorkerOutcome {
    lastRewritten = nil
    let request = WorkerRequest(
      model: model, inputs: inputs.map(EncodedTensor.init), onnx: onnx, rewrites: rewrites ? true : nil)
    var stage = "compile"
    let reply = supervisor.request(request, timeout: limits.compileTimeout, as: WorkerMessage.self) {
      message in
      guard message.event == "compiled" else { return nil }
      stage = "execute"
      return limits.executeTimeout
    }
    let message: WorkerMessage
    switch reply {
    case .success(let m): message = m
    case .failure(.cannotStart(let why)):
      return .error(stage: "compile", message: "cannot start worker \(command[0]): \(why)")
    case .failure(.crash(let signal)): return .crash(stage: stage, signal: signal)
    case .failure(.exit(let code)): return .exit(stage: stage, code: code)
    case .failure(.hang): return .hang(stage: stage)
    case .failure(.oom(let rss)): return .oom(stage: stage, rssMB: rss)
    case .failure(.malformedReply): return .error(stage: stage, message: "worker sent a malformed frame")
    case .failure(let f): return .error(stage: stage, message: f.description)
    }
    if let reason = message.unsupported { return .unsupported(reason) }
    if let error = message.error {
      supervisor.stop()  // recycle after any failure
      return .error(stage: message.stage ?? stage, message: error)
    }
    let outputs = (message.outputs ?? []).compactMap(\.tensor)
    guard outputs.count == (message.outputs ?? []).count else {
      supervisor.stop()
      return .error(stage: "execute", message: "worker sent a malformed tensor")
    }
    lastRewritten = message.rewritten
    return .outputs(outputs)
  }
}

/// Idle workers kept between uses, by command: a campaign's triage asks the same independent
/// implementations (onnx-ref, ort-noopt, ...) about every new bucket, and starting a Python
/// worker costs its imports each time. `checkout` hands a worker to one user at a time (lanes
/// triage concurrently); `checkin` returns it; `stopAll` ends them.
public final class WorkerPool: @unchecked Sendable {
  private let lock = NSLock()
  private var idle: [[String]: [WorkerProcess]] = [:]

  public init() {}

  /// An idle worker running `command`, or a new one.
  public func checkout(command: [String], limits: WorkerLimits, logPath: String) -> WorkerProcess {
    lock.lock()
    defer { lock.unlock() }
    if let w = idle[command]?.popLast() { return w }
    return WorkerProcess(command: command, limits: limits, logPath: logPath)
  }

  public func checkin(_ worker: WorkerProcess) {
    lock.lock()
    idle[worker.command, default: []].append(worker)
    lock.unlock()
  }

  public func stopAll() {
    lock.lock()
    let all = idle.values.flatMap { $0 }
    idle = [:]
    lock.unlock()
    for w in all { w.stop() }
  }
}
