import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Limits of a supervised child.
public struct SupervisorLimits: Sendable {
  /// Resident memory of the child's whole process group, in MiB, above which it is killed and the
  /// request fails as `.oom`; 0 for no limit.
  public var rssLimitMB: Int
  /// Requests one child process serves before it is replaced by a fresh one.
  public var maxRequests: Int
  /// Seconds between SIGTERM and SIGKILL when the group is ended.
  public var killGrace: Double

  public init(rssLimitMB: Int = 0, maxRequests: Int = .max, killGrace: Double = 0.5) {
    self.rssLimitMB = rssLimitMB
    self.maxRequests = maxRequests
    self.killGrace = killGrace
  }
}

/// Why a request got no reply. Every way a child can misbehave is a value here; none of them can
/// take the caller down. After any of them the child is gone and the next request starts a new one.
public enum ChildFailure: Error, Sendable, Equatable, CustomStringConvertible {
  /// The child could not be started (the exec's error).
  case cannotStart(String)
  /// A signal killed the child (one the supervisor did not send).
  case crash(signal: Int32)
  /// The child exited on its own, with this status.
  case exit(code: Int32)
  /// No reply in time: the supervisor killed the group.
  case hang
  /// The group's resident memory went over the limit: the supervisor killed the group.
  case oom(rssMB: Int)
  /// The child sent a frame that is not the expected JSON (or longer than `Frame.maxLength`).
  case malformedReply(String)
  /// The request could not be encoded; no child was asked.
  case unencodableRequest(String)

  public var description: String {
    switch self {
    case .cannotStart(let why): "cannot start: \(why)"
    case .crash(let signal): "killed by signal \(signal)"
    case .exit(let code): "exited with status \(code)"
    case .hang: "timed out"
    case .oom(let rss): "over the memory limit (\(rss) MiB)"
    case .malformedReply(let why): "malformed reply: \(why)"
    case .unencodableRequest(let why): "cannot encode the request: \(why)"
    }
  }
}

/// A child process that answers typed requests: the one way DLSmith runs a target or a helper
/// (campaign workers, the probe, the onnxruntime rule tracer).
///
/// **Protocol.** Requests and replies are frames on the child's stdin and stdout: a 4-byte
/// little-endian length, then that many bytes of UTF-8 JSON (one JSON object per frame, at most
/// `Frame.maxLength` bytes). Each request is one `Encodable` value; the child answers it with zero
/// or more interim replies and then one final reply, all of one `Decodable` type that the caller
/// names (`request(_:timeout:as:interim:)` decides which replies are interim). Anything the child
/// prints besides frames must go to its stderr, which is written to `logPath` (or discarded).
///
/// **Process.** The child is started lazily by the first request (`ChildProcess`: its own process
/// group, SIGKILL when this process dies). Each request has a timeout (an interim reply may set a
/// new one); while it waits, the supervisor watches the group's resident memory. On a timeout, an
/// overrun, a malformed reply or a child that dies, the whole group is ended (SIGTERM, the grace
/// period, SIGKILL) and reaped, and the request fails with a `ChildFailure`. The child is also
/// replaced after `limits.maxRequests` requests, and whenever the caller calls `stop()` (after a
/// reply that says the child is in a bad state, for example). SIGPIPE is ignored in this process:
/// a child that is gone shows up as a failed write.
///
/// ```swift
/// let s = Supervisor(command: ["/usr/bin/python3", "worker.py"], logPath: "/tmp/worker.log")
/// switch s.request(Ask(x: 1), timeout: 20, as: Answer.self) {
/// case .success(let answer): use(answer)
/// case .failure(let failure): record(failure, s.logTail())
/// }
/// ```
///
/// Not thread-safe: one user at a time.
public final class Supervisor {
  public let command: [String]
  public let limits: SupervisorLimits
  /// Where the child's stderr goes (truncated at each start); nil for /dev/null.
  public let logPath: String?
  /// Child processes started so far.
  public private(set) var starts = 0
  private var child: ChildProcess?
  private var toChild: Int32 = -1
  private var fromChild: Int32 = -1
  private var served = 0
  private let encoder = JSONEncoder()
  private let decoder = JSONDecoder()

  public init(command: [String], limits: SupervisorLimits = SupervisorLimits(), logPath: String?) {
    precondition(!command.isEmpty, "a command")
    self.command = command
    self.limits = limits
    self.logPath = logPath
    signal(SIGPIPE, SIG_IGN)
  }

  deinit { stop() }

  /// The running child's pid (the id of its process group).
  public var pid: Int32? { child?.pid }

  /// Starts a child unless one is running that may serve another request (the first request does
  /// this by itself). Returns why it could not start.
  @discardableResult
  public func start() -> ChildFailure? {
    if child != nil && served < limits.maxRequests { return nil }
    stop()
    var input = Pipe2()
    var output = Pipe2()
    var log: Int32 = -1
    if let logPath { log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
    if log < 0 { log = open("/dev/null", O_WRONLY | O_CLOEXEC) }
    defer { if log >= 0 { close(log) } }
    do {
      child = try ChildProcess(command: command, stdin: input.read, stdout: output.write, stderr: log)
    } catch {
      input.closeBoth()
      output.closeBoth()
      return .cannotStart(error.description)
    }
    input.closeRead()
    output.closeWrite()
    toChild = input.write
    fromChild = output.read
    // Writes wait in poll, watching the clock, rather than block on a child that does not read.
    _ = fcntl(toChild, F_SETFL, fcntl(toChild, F_GETFL) | O_NONBLOCK)
    served = 0
    starts += 1
    return nil
  }

  /// Ends the child's process group (stdin closed first: a child waiting for a request exits on
  /// it), and reaps it. The next request starts a new child.
  public func stop() {
    guard let c = child else { return }
    if toChild >= 0 { close(toChild) }
    c.terminate(grace: limits.killGrace)
    if fromChild >= 0 { close(fromChild) }
    child = nil
    toChild = -1
    fromChild = -1
  }

  /// The last `limit` bytes of the child's stderr log.
  public func logTail(limit: Int = 64 * 1024) -> String {
    guard let logPath, let h = FileHandle(forReadingAtPath: logPath) else { return "" }
    defer { try? h.close() }
    let size = (try? h.seekToEnd()) ?? 0
    try? h.seek(toOffset: size > UInt64(limit) ? size - UInt64(limit) : 0)
    let data = (try? h.readToEnd()) ?? Data()
    return String(decoding: data.suffix(limit), as: UTF8.self)
  }

  /// Sends `request` and waits for the final reply, at most `timeout` seconds (the first reply
  /// included). `interim` sees every reply: it returns nil for the final one, or the seconds to
  /// wait from now for the next (an interim reply, such as a worker's `compiled`).
  public func request<Request: Encodable, Reply: Decodable>(
    _ request: Request, timeout: Double, as: Reply.Type = Reply.self,
    interim: (Reply) -> Double? = { _ in nil }
  ) -> Result<Reply, ChildFailure> {
    let body: Data
    do { body = try encoder.encode(request) } catch {
      return .failure(.unencodableRequest("\(error)"))
    }
    if let failure = start() { return .failure(failure) }
    served += 1
    var deadline = Supervisor.instant(after: timeout)
    let frame = Frame.encode(body)
    var written = 0
    while written < frame.count {
      if let failure = watch(until: deadline) { return .failure(failure) }
      var pfd = pollfd(fd: toChild, events: Int16(POLLOUT), revents: 0)
      guard poll(&pfd, 1, 50) > 0 else {
        // The child is gone but something it left behind holds the pipe.
        if child?.ended() != nil { return .failure(ended(until: deadline)) }
        continue
      }
      let n = frame.withUnsafeBytes { write(toChild, $0.baseAddress! + written, frame.count - written) }
      if n > 0 {
        written += n
      } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
        continue
      } else {
        return .failure(ended(until: deadline))
      }
    }
    var buffer = Data()
    while true {
      while let next = Frame.take(from: &buffer) {
        guard case .success(let body) = next else {
          stop()
          return .failure(.malformedReply("a frame longer than \(Frame.maxLength) bytes"))
        }
        let reply: Reply
        do { reply = try decoder.decode(Reply.self, from: body) } catch {
          stop()
          return .failure(.malformedReply("\(error)"))
        }
        guard let wait = interim(reply) else { return .success(reply) }
        deadline = Supervisor.instant(after: wait)
      }
      if let failure = watch(until: deadline) { return .failure(failure) }
      var pfd = pollfd(fd: fromChild, events: Int16(POLLIN), revents: 0)
      guard poll(&pfd, 1, 50) > 0 else {
        // The child is gone (everything it wrote is in the pipe by now: one more look) but
        // something it left behind holds the pipe, so no end of file comes.
        if child?.ended() != nil && poll(&pfd, 1, 0) == 0 { return .failure(ended(until: deadline)) }
        continue
      }
      var chunk = [UInt8](repeating: 0, count: 1 << 16)
      let n = read(fromChild, &chunk, chunk.count)
      if n > 0 {
        buffer.append(contentsOf: chunk[0..<n])
      } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
        return .failure(ended(until: deadline))
      }
    }
  }

  private static func instant(after seconds: Double) -> ContinuousClock.Instant {
    .now + .nanoseconds(Int64(Swift.max(0, Swift.min(seconds, 1e9)) * 1e9))
  }

  /// Checked while a request waits: the clock and the group's memory. Kills the group and returns
  /// the failure when either is over.
  private func watch(until deadline: ContinuousClock.Instant) -> ChildFailure? {
    if ContinuousClock.now >= deadline {
      stop()
      return .hang
    }
    if limits.rssLimitMB > 0, let rss = child?.groupRSSMB(), rss > limits.rssLimitMB {
      stop()
      return .oom(rssMB: rss)
    }
    return nil
  }

  /// The child closed its end of a pipe: how it ended (a hang if it still runs at the deadline).
  private func ended(until deadline: ContinuousClock.Instant) -> ChildFailure {
    let end = child?.waitForEnd(until: deadline)
    stop()
    switch end {
    case .signaled(let signal): return .crash(signal: signal)
    case .exited(let code): return .exit(code: code)
    case nil: return .hang
    }
  }
}

/// The frames of the supervisor's protocol: a 4-byte little-endian length, then that many bytes
/// (UTF-8 JSON). The child side (`dlsmith worker`) uses `read(from:)` and `write(_:to:)` too.
public enum Frame {
  public static let maxLength = 1 << 30

  /// `body` with its length in front.
  public static func encode(_ body: Data) -> Data {
    var n = UInt32(body.count).littleEndian
    var frame = Data(bytes: &n, count: 4)
    frame.append(body)
    return frame
  }

  /// The JSON of `value` as a frame; one with an empty body (malformed for the peer, which then
  /// fails at once rather than waiting) if it cannot be encoded.
  public static func encode<T: Encodable>(json value: T) -> Data {
    encode((try? JSONEncoder().encode(value)) ?? Data())
  }

  /// The body of the first complete frame of `buffer`, removed from it; nil while it is
  /// incomplete; a failure if its length is over `maxLength`.
  static func take(from buffer: inout Data) -> Result<Data, ChildFailure>? {
    guard buffer.count >= 4 else { return nil }
    let n = Int(buffer.prefix(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
    guard n <= maxLength else { return .failure(.malformedReply("frame too long")) }
    guard buffer.count >= 4 + n else { return nil }
    let body = buffer.subdata(in: buffer.startIndex + 4..<buffer.startIndex + 4 + n)
    buffer.removeFirst(4 + n)
    return .success(body)
  }

  /// Writes all of `data` to `fd`, blocking; false if the peer is gone.
  public static func write(_ data: Data, to fd: Int32) -> Bool {
    data.withUnsafeBytes { raw -> Bool in
      var off = 0
      while off < raw.count {
        let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return false }
        off += n
      }
      return true
    }
  }

  /// Reads one frame's body from `fd`, blocking; nil at the end of input or on an error.
  public static func read(from fd: Int32) -> Data? {
    guard let header = readExactly(4, from: fd) else { return nil }
    let n = header.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
    guard n <= maxLength else { return nil }
    return readExactly(Int(n), from: fd)
  }

  static func readExactly(_ count: Int, from fd: Int32) -> Data? {
    var data = Data(count: count)
    var off = 0
    let ok = data.withUnsafeMutableBytes { raw -> Bool in
      while off < count {
        let n = Glibc.read(fd, raw.baseAddress! + off, count - off)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return false }
        off += n
      }
      return true
    }
    return ok ? data : nil
  }
}
