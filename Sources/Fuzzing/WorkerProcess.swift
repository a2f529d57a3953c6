import Foundation
import IR
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

/// One worker process (`dlsmith worker ...` or any program speaking `WorkerProtocol`).
///
/// Started lazily, recycled after `maxModels` models and after any failure. The worker is its own
/// process-group leader; on a timeout or an RSS overrun the whole group gets SIGTERM, then SIGKILL
/// after a grace period, and is reaped, so no orphans or zombies remain. Its stderr goes to a log
/// file whose tail is attached to findings.
public final class WorkerProcess {
  public let command: [String]
  public let limits: WorkerLimits
  public let logPath: String
  private var process: Process?
  private var toWorker: FileHandle?
  private var fromWorker: Int32 = -1
  private var served = 0
  public private(set) var restarts = 0
  /// What the last `run` with `rewrites` learned: the output names of the nodes the target rewrote,
  /// or `nil` (not asked, the run failed, or the worker cannot tell).
  public private(set) var lastRewritten: [String]?

  public init(command: [String], limits: WorkerLimits, logPath: String) {
    precondition(!command.isEmpty, "a worker command")
    self.command = command
    self.limits = limits
    self.logPath = logPath
    signal(SIGPIPE, SIG_IGN)
  }

  deinit { stop() }

  public var pid: Int32? { process?.processIdentifier }

  private func start() throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: command[0])
    p.arguments = Array(command.dropFirst())
    let stdin = Pipe()
    let stdout = Pipe()
    p.standardInput = stdin
    p.standardOutput = stdout
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    p.standardError = FileHandle(forWritingAtPath: logPath) ?? FileHandle.nullDevice
    try p.run()
    process = p
    toWorker = stdin.fileHandleForWriting
    fromWorker = stdout.fileHandleForReading.fileDescriptor
    served = 0
  }

  /// Kills the worker's process group and reaps it.
  public func stop() {
    guard let p = process else { return }
    let pid = p.processIdentifier
    // End of input first: a worker waiting for a request exits on it (every worker speaking the
    // protocol does), even one that ignores or blocks SIGTERM.
    try? toWorker?.close()
    toWorker = nil
    if p.isRunning {
      kill(-pid, SIGTERM)
      kill(pid, SIGTERM)
      let deadline = Date().addingTimeInterval(limits.killGrace)
      while p.isRunning && Date() < deadline { usleep(5_000) }
      if p.isRunning {
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
      }
    }
    p.waitUntilExit()
    // Anything left in the group (children of the worker) goes too.
    kill(-pid, SIGKILL)
    try? toWorker?.close()
    process = nil
    toWorker = nil
    fromWorker = -1
  }

  /// The last `limit` bytes of the worker's stderr log.
  public func logTail(limit: Int = 64 * 1024) -> String {
    guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
    return String(decoding: data.suffix(limit), as: UTF8.self)
  }

  /// Runs one model. Never throws for a misbehaving target: the outcome says what happened.
  /// `onnx` is the model's ONNX bytes, sent along for workers that need them.
  /// With `rewrites`, the worker also reports the nodes its optimizer rewrote (`lastRewritten`).
  public func run(model: Data, inputs: [Tensor], onnx: Data? = nil, rewrites: Bool = false) -> WorkerOutcome {
    lastRewritten = nil
    if process == nil || served >= limits.maxModels {
      stop()
      do { try start() } catch {
        return .error(stage: "compile", message: "cannot start worker \(command[0]): \(error)")
      }
      restarts += 1
    }
    served += 1
    let request = Frames.encode(
      WorkerRequest(
        model: model, inputs: inputs.map(EncodedTensor.init), onnx: onnx, rewrites: rewrites ? true : nil))
    var stage = "compile"
    guard let out = toWorker, Frames.write(request, to: out.fileDescriptor) else {
      return finishDead(stage: stage)
    }
    var buffer = Data()
    var deadline = Date().addingTimeInterval(limits.compileTimeout)
    while true {
      // Parse every complete frame in the buffer.
      while buffer.count >= 4 {
        let n = Int(
          buffer.prefix(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
        guard buffer.count >= 4 + n else { break }
        let body = buffer.subdata(in: buffer.startIndex + 4..<buffer.startIndex + 4 + n)
        buffer.removeFirst(4 + n)
        guard let message = try? JSONDecoder().decode(WorkerMessage.self, from: body) else {
          stop()
          return .error(stage: stage, message: "worker sent a malformed frame")
        }
        if message.event == "compiled" {
          stage = "execute"
          deadline = Date().addingTimeInterval(limits.executeTimeout)
          continue
        }
        if let reason = message.unsupported { return .unsupported(reason) }
        if let error = message.error {
          stop()  // recycle after any failure
          return .error(stage: message.stage ?? stage, message: error)
        }
        let outputs = (message.outputs ?? []).compactMap(\.tensor)
        guard outputs.count == (message.outputs ?? []).count else {
          stop()
          return .error(stage: "execute", message: "worker sent a malformed tensor")
        }
        lastRewritten = message.rewritten
        return .outputs(outputs)
      }
      // Wait for more bytes, watching the clock and the memory.
      let remaining = deadline.timeIntervalSinceNow
      if remaining <= 0 {
        stop()
        return .hang(stage: stage)
      }
      if let pid, let rss = WorkerProcess.rssMB(pid), limits.rssLimitMB > 0, rss > limits.rssLimitMB {
        stop()
        return .oom(stage: stage, rssMB: rss)
      }
      var pfd = pollfd(fd: fromWorker, events: Int16(POLLIN), revents: 0)
      let ready = poll(&pfd, 1, Int32(Swift.min(50, Swift.max(1, remaining * 1000))))
      if ready < 0 && errno == EINTR { continue }
      if ready > 0 {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let n = read(fromWorker, &chunk, chunk.count)
        if n > 0 {
          buffer.append(contentsOf: chunk[0..<n])
        } else if n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) {
          return finishDead(stage: stage)
        }
      }
    }
  }

  /// The worker closed its pipe: wait for it and classify the death.
  private func finishDead(stage: String) -> WorkerOutcome {
    guard let p = process else { return .error(stage: stage, message: "worker not running") }
    p.waitUntilExit()
    let status = p.terminationStatus
    let reason = p.terminationReason
    stop()
    if reason == .uncaughtSignal { return .crash(stage: stage, signal: status) }
    return .exit(stage: stage, code: status)
  }

  /// Resident set size of a process in MiB, from /proc.
  public static func rssMB(_ pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
      return kb / 1024
    }
    return nil
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
