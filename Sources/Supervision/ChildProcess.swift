import CProcess
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// How a child process ended.
public enum Termination: Sendable, Equatable, CustomStringConvertible {
  /// It exited with this status.
  case exited(Int32)
  /// A signal killed it.
  case signaled(Int32)

  public var description: String {
    switch self {
    case .exited(let code): "exit \(code)"
    case .signaled(let signal): "signal \(signal)"
    }
  }
}

/// Why a child could not be started: the errno of the exec (or of the fork).
public struct SpawnError: Error, Sendable, CustomStringConvertible {
  public var command: [String]
  public var code: Int32
  public var description: String { String(cString: strerror(code)) }
}

/// One spawned program: the leader of its own process group, killed with its parent.
///
/// `dlsmith_spawn` (Sources/CProcess) forks and execs it with `PR_SET_PDEATHSIG` = SIGKILL armed
/// before the exec (so a fuzzer killed with `kill -9` leaves no orphan), default signal
/// dispositions, an empty signal mask and no descriptor but its standard three. `terminate` ends the
/// whole group: SIGTERM, a grace period, SIGKILL, then the leader is reaped. The leader is reaped
/// only after the group has had its SIGKILL: until then its zombie keeps the pid, so the group id
/// cannot be reused by another process while it is being killed.
///
/// Not thread-safe: one owner at a time.
public final class ChildProcess {
  public let pid: Int32
  public let command: [String]
  /// How the leader ended, once it has been reaped.
  public private(set) var reaped: Termination?
  /// Other members of the group, from the last scan of /proc (`groupRSSMB`).
  private var members: [Int32] = []
  private var lastScan: ContinuousClock.Instant?

  /// Starts `command` (`command[0]` is a path, not looked up on `PATH`) with these standard
  /// descriptors; the caller keeps its own copies of them and closes them.
  public init(command: [String], stdin: Int32, stdout: Int32, stderr: Int32) throws(SpawnError) {
    precondition(!command.isEmpty, "a command")
    self.command = command
    var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) }
    argv.append(nil)
    defer { for p in argv { free(p) } }
    var child: pid_t = 0
    let error = dlsmith_spawn(command[0], argv, stdin, stdout, stderr, &child)
    guard error == 0 else { throw SpawnError(command: command, code: error) }
    pid = child
  }

  deinit {
    if reaped == nil { terminate(grace: 0) }
  }

  /// How the leader ended, if it has (without reaping it).
  public func ended() -> Termination? {
    if let reaped { return reaped }
    var signaled: Int32 = 0
    var code: Int32 = 0
    guard dlsmith_child_ended(pid, &signaled, &code) == 1 else { return nil }
    return signaled != 0 ? .signaled(code) : .exited(code)
  }

  /// Waits until the leader ends, at most until `deadline`; how it ended, or nil if it still runs.
  public func waitForEnd(until deadline: ContinuousClock.Instant) -> Termination? {
    while true {
      if let t = ended() { return t }
      if ContinuousClock.now >= deadline { return nil }
      usleep(5_000)
    }
  }

  /// Ends the whole group and reaps the leader: SIGTERM to the group unless the leader already
  /// ended, up to `grace` seconds for the leader to go, then SIGKILL to the group (members that
  /// outlived the leader go too). Returns how the leader ended.
  @discardableResult
  public func terminate(grace: Double) -> Termination {
    if let reaped { return reaped }
    // The leader too, in case it left its group.
    if ended() == nil {
      kill(-pid, SIGTERM)
      kill(pid, SIGTERM)
      _ = waitForEnd(until: .now + .milliseconds(Int(grace * 1000)))
    }
    kill(-pid, SIGKILL)
    kill(pid, SIGKILL)
    var signaled: Int32 = 0
    var code: Int32 = 0
    // -1 only if the child was reaped elsewhere (nothing else waits for it): report it as killed.
    let t: Termination =
      dlsmith_reap(pid, &signaled, &code) == 0
      ? (signaled != 0 ? .signaled(code) : .exited(code)) : .signaled(SIGKILL)
    reaped = t
    return t
  }

  // MARK: - Memory

  /// Resident memory of the whole group in MiB (the leader's own if /proc cannot be listed); nil
  /// once the leader is gone. Members other than the leader are found by a scan of /proc at most
  /// once a second (a child born since is counted from the next scan).
  public func groupRSSMB() -> Int? {
    guard reaped == nil, let leader = ChildProcess.stat(pid), leader.group == pid else { return nil }
    let now = ContinuousClock.now
    if lastScan.map({ now - $0 >= .seconds(1) }) ?? true {
      lastScan = now
      members = ChildProcess.processes().filter { $0 != pid && ChildProcess.stat($0)?.group == pid }
    }
    var pages = leader.rssPages
    for m in members {
      if let s = ChildProcess.stat(m), s.group == pid { pages += s.rssPages }
    }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / (1 << 20)
  }

  /// A process's group id and resident pages, from /proc/<pid>/stat.
  static func stat(_ pid: Int32) -> (group: Int32, rssPages: Int)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    // After the command name: state, ppid, pgrp, ... rss is field 24 of the line (index 21 here).
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 21, let group = Int32(fields[2]), let rss = Int(fields[21]) else { return nil }
    return (group, rss)
  }

  static func processes() -> [Int32] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
  }

  // MARK: - One-shot runs

  /// What a one-shot run printed and how it ended.
  public struct Completed: Sendable {
    /// How it ended; nil when it ran out of time (its group was killed).
    public var termination: Termination?
    public var stdout: Data
    /// Empty unless stderr was captured.
    public var stderr: Data
  }

  /// Runs `command` to its end, with stdin from /dev/null, capturing stdout (and stderr, else it
  /// goes to this process's stderr), for at most `timeout` seconds.
  public static func run(_ command: [String], captureStderr: Bool = true, timeout: Double = 600)
    throws(SpawnError) -> Completed
  {
    let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer { if null >= 0 { close(null) } }
    var out = Pipe2()
    var err = captureStderr ? Pipe2() : nil
    let child: ChildProcess
    do {
      child = try ChildProcess(
        command: command, stdin: null, stdout: out.write, stderr: err?.write ?? STDERR_FILENO)
    } catch {
      out.closeBoth()
      err?.closeBoth()
      throw error
    }
    out.closeWrite()
    err?.closeWrite()
    defer {
      out.closeBoth()
      err?.closeBoth()
    }
    var stdout = Data()
    var stderr = Data()
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    var reading = [out.read] + (err.map { [$0.read] } ?? [])
    while !reading.isEmpty, ContinuousClock.now < deadline {
      var fds = reading.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
      let ready = poll(&fds, nfds_t(fds.count), 50)
      if ready < 0 && errno != EINTR { break }
      // Nothing pending and the leader is gone: a process it left behind may hold the pipes open.
      if ready == 0 && child.ended() != nil { break }
      for f in fds where f.revents != 0 {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let n = read(f.fd, &chunk, chunk.count)
        if n > 0 {
          if f.fd == out.read {
            stdout.append(contentsOf: chunk[0..<n])
          } else {
            stderr.append(contentsOf: chunk[0..<n])
          }
        } else if n == 0 || errno != EINTR {
          reading.removeAll { $0 == f.fd }
        }
      }
    }
    // Output closed (or time is up): the leader has ended or must end by the deadline.
    let ended = child.waitForEnd(until: deadline)
    let termination = child.terminate(grace: 0)
    return Completed(termination: ended == nil ? nil : termination, stdout: stdout, stderr: stderr)
  }
}

/// A pipe whose two ends do not leak into other children (close-on-exec).
struct Pipe2 {
  private(set) var read: Int32 = -1
  private(set) var write: Int32 = -1

  init() {
    var fds: [Int32] = [-1, -1]
    if dlsmith_pipe(&fds) == 0 {
      read = fds[0]
      write = fds[1]
    }
  }

  mutating func closeWrite() {
    if write >= 0 { close(write) }
    write = -1
  }

  mutating func closeRead() {
    if read >= 0 { close(read) }
    read = -1
  }

  mutating func closeBoth() {
    closeRead()
    closeWrite()
  }
}
