import Foundation
import Supervision
import TestSupport
import Testing

/// The supervisor against small child programs that misbehave on request. Timeouts are generous
/// and only outcomes are checked (never durations), so that a loaded machine cannot fail them.
@Suite struct SupervisorTests {
  static let hasPython = pythonCanImport("json")

  /// A child speaking the supervisor's protocol: each request names what it does.
  static let child = #"""
    import json, os, signal, struct, subprocess, sys, time
    inp, out, served = sys.stdin.buffer, sys.stdout.buffer, 0
    def send(message):
        body = json.dumps(dict(message, pid=os.getpid(), served=served)).encode()
        out.write(struct.pack("<I", len(body)) + body)
        out.flush()
    while len(header := inp.read(4)) == 4:
        request = json.loads(inp.read(struct.unpack("<I", header)[0]))
        served += 1
        action = request["action"]
        if action == "echo":
            send({"text": request.get("text")})
        elif action == "interim":
            send({"interim": True})
            send({"interim": True})
            send({"text": "final"})
        elif action == "spawn":  # a grandchild in the same process group
            send({"grandchild": subprocess.Popen(["sleep", "100000"]).pid})
        elif action == "hang":  # only SIGKILL ends it
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(100000)
        elif action == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif action == "spawn-and-crash":  # the grandchild keeps the pipes open: no end of file
            subprocess.Popen(["sleep", "100000"])
            os.kill(os.getpid(), signal.SIGSEGV)
        elif action == "exit":
            sys.stderr.write("exiting with status 3\n")
            sys.stderr.flush()
            os._exit(3)
        elif action == "oom":  # grows by 32 MiB steps, up to 2 GiB, then waits
            hoard = []
            while len(hoard) < 64:
                hoard.append(b"x" * (32 << 20))
                time.sleep(0.01)
            time.sleep(100000)
        elif action == "garbage":
            out.write(struct.pack("<I", 5) + b"nope!")
            out.flush()
        elif action == "close":  # no more replies, but alive
            os.close(1)
            time.sleep(100000)
    """#

  struct Ask: Encodable {
    var action: String
    var text: String? = nil
  }

  struct Reply: Decodable {
    var pid: Int32
    var served: Int
    var text: String?
    var interim: Bool?
    var grandchild: Int32?
  }

  static func supervisor(_ limits: SupervisorLimits = SupervisorLimits(), log: Bool = false) -> Supervisor {
    Supervisor(
      command: ["/usr/bin/env", "python3", "-c", child], limits: limits,
      logPath: log ? temporaryDirectory().appendingPathComponent("child.log").path : nil)
  }

  /// The state and process group of `pid` (fields 3 and 5 of /proc/<pid>/stat).
  static func stat(_ pid: Int32) -> (state: Substring, group: Int32)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 2, let group = Int32(fields[2]) else { return nil }
    return (fields[0], group)
  }

  /// Whether `pid` is a live process (a zombie is dead: it only waits to be reaped by its parent).
  static func alive(_ pid: Int32) -> Bool {
    stat(pid).map { $0.state != "Z" } ?? false
  }

  /// The live processes of process group `id`.
  static func group(_ id: Int32) -> [Int32] {
    let all = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    return all.filter { alive($0) && stat($0)?.group == id }.sorted()
  }

  /// Waits (at most a minute) for `pid` to die; whether it did.
  static func dies(_ pid: Int32) -> Bool {
    let deadline = ContinuousClock.now + .seconds(60)
    while alive(pid) {
      if ContinuousClock.now > deadline { return false }
      usleep(20_000)
    }
    return true
  }
}

extension SupervisorTests {
  @Test(.enabled(if: hasPython, "python3 is not available"))
  func repliesAreTypedAndAChildIsRecycledAfterNRequests() throws {
    let s = Self.supervisor(SupervisorLimits(maxRequests: 3))
    defer { s.stop() }
    var served: [Int] = []
    var pids: [Int32] = []
    for i in 0..<7 {
      let reply = try s.request(Ask(action: "echo", text: "hello \(i)"), timeout: 120, as: Reply.self).get()
      #expect(reply.text == "hello \(i)")
      served.append(reply.served)
      pids.append(reply.pid)
    }
    #expect(served == [1, 2, 3, 1, 2, 3, 1])
    #expect(Set(pids).count == 3 && pids[0] == pids[2] && pids[3] == pids[5] && pids[5] != pids[6])
    #expect(s.starts == 3)
    #expect(!Self.alive(pids[0]) && !Self.alive(pids[3]), "recycled children are gone")
  }

  @Test(.enabled(if: hasPython, "python3 is not available"))
  func interimRepliesComeBeforeTheFinalOne() throws {
    let s = Self.supervisor()
    defer { s.stop() }
    var interims = 0
    let reply = try s.request(Ask(action: "interim"), timeout: 120, as: Reply.self) { r in
      guard r.interim == true else { return nil }
      interims += 1
      return 120
    }.get()
    #expect(interims == 2 && reply.text == "final")
  }

  @Test(.enabled(if: hasPython, "python3 is not available"))
  func aHangIsKilledWithItsGroupAndTheNextRequestGetsAFreshChild() throws {
    let s = Self.supervisor(SupervisorLimits(killGrace: 0.2))
    defer { s.stop() }
    let spawned = try s.request(Ask(action: "spawn"), timeout: 120, as: Reply.self).get()
    let grandchild = try #require(spawned.grandchild)
    #expect(Self.alive(grandchild))
    // Ignores SIGTERM: only the SIGKILL after the grace period ends it.
    let hung = s.request(Ask(action: "hang"), timeout: 2, as: Reply.self)
    #expect(hung.failure == .hang)
    #expect(s.pid == nil)
    #expect(!Self.alive(spawned.pid), "the child was killed and reaped")
    #expect(Self.dies(grandchild), "the grandchild in the child's group died too")
    let next = try s.request(Ask(action: "echo"), timeout: 120, as: Reply.self).get()
    #expect(next.pid != spawned.pid && next.served == 1 && s.starts == 2)
  }

  @Test(.enabled(if: hasPython, "python3 is not available"))
  func stopEndsTheWholeGroup() throws {
    let s = Self.supervisor()
    let spawned = try s.request(Ask(action: "spawn"), timeout: 120, as: Reply.self).get()
    let grandchild = try #require(spawned.grandchild)
    s.stop()
    #expect(!Self.alive(spawned.pid))
    #expect(Self.dies(grandchild))
  }

  @Test(.enabled(if: hasPython, "python3 is not available"))
  func growingOverTheRSSLimitIsOOM() throws {
    let s = Self.supervisor(SupervisorLimits(rssLimitMB: 200, killGrace: 0.2))
    defer { s.stop() }
    let result = s.request(Ask(action: "oom"), timeout: 300, as: Reply.self)
    guard case .oom(let rss) = result.failure else {
      Issue.record("expected oom, got \(result)")
      return
    }
    #expect(rss > 200)
    #expect(s.pid == nil)
  }

  @Test(.enabled(if: hasPython, "python3 is not available"))
  func aCrashReportsItsSignalAndAnExitItsStatus() throws {
    let s = Self.supervisor(log: true)
    defer { s.stop() }
    #expect(s.request(Ask(action: "crash"), timeout: 120, as: Reply.self).failure == .crash(signal: SIGSEGV))
    #expect(s.request(Ask(action: "exit"), timeout: 120, as: Reply.self).failure == .exit(code: 3))
    #expect(s.logTail().contains("exiting with status 3"), "the child's stderr is in its log")
    #expect(s.starts == 2)
  }

  @Test(.enabled(if: hasPython, "python3 is not available"))
  func aCrashIsACrashEvenWhenAGrandchildHoldsThePipes() throws {
    let s = Self.supervisor()
    defer { s.stop() }
    let first = try s.request(Ask(action: "echo"), timeout: 120, as: Reply.self).get()
    let members = Self.group(first.pid)
    #expect(members == [first.pid])
    #expect(
      s.request(Ask(action: "spawn-and-crash"), timeout: 120, as: Reply.self).failure
        == .crash(signal: SIGSEGV))
    let deadline = ContinuousClock.now + .seconds(60)
    while !Self.group(first.pid).isEmpty && ContinuousClock.now < deadline {
      usleep(20_000)
    }
    #expect(Self.group(first.pid).isEmpty, "the grandchild was killed with the group")
  }

  @Test(.enabled(if: hasPython, "python3 is not available"))
  func aMalformedReplyOrAChildThatStopsAnsweringIsAFailure() throws {
    let s = Self.supervisor(SupervisorLimits(killGrace: 0.2))
    defer { s.stop() }
    guard case .malformedReply = s.request(Ask(action: "garbage"), timeout: 120, as: Reply.self).failure
    else {
      Issue.record("expected a malformed reply")
      return
    }
    #expect(s.pid == nil, "a child that sent garbage is replaced")
    #expect(s.request(Ask(action: "close"), timeout: 2, as: Reply.self).failure == .hang)
  }

  @Test func aMissingProgramCannotStart() {
    let s = Supervisor(command: ["/nonexistent/worker"], logPath: nil)
    guard case .cannotStart(let why) = s.request(Ask(action: "echo"), timeout: 10, as: Reply.self).failure
    else {
      Issue.record("expected cannotStart")
      return
    }
    #expect(why.contains("No such file"), "\(why)")
    #expect(s.starts == 0 && s.pid == nil)
    #expect(throws: SpawnError.self) { try ChildProcess.run(["/nonexistent/tool"]) }
  }

  /// The child leads its own group, has no signal blocked or ignored (whatever this process
  /// blocks or ignores: the test runner blocks some, the supervisor ignores SIGPIPE) and no
  /// descriptor but its standard three.
  @Test func theChildLeadsItsGroupWithACleanSlate() throws {
    _ = Supervisor(command: ["/bin/true"], logPath: nil)  // ignores SIGPIPE in this process
    let run = try ChildProcess.run(["/bin/cat", "/proc/self/stat", "/proc/self/status"])
    #expect(run.termination == .exited(0))
    let text = String(decoding: run.stdout, as: UTF8.self)
    let stat = text.split(separator: "\n")[0]
    let pid = stat.split(separator: " ")[0]
    let afterName = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
    #expect(afterName[2] == pid, "process group id == pid")
    for field in ["SigBlk", "SigIgn"] {
      let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") }
      #expect(line?.hasSuffix("0000000000000000") == true, "\(line ?? "")")
    }
    let fds = try ChildProcess.run(["/bin/ls", "/proc/self/fd"])
    // ls's own descriptor for the listing is the only one besides 0, 1 and 2.
    let listed = String(decoding: fds.stdout, as: UTF8.self).split(separator: "\n").filter { Int($0)! > 2 }
    #expect(listed.count <= 1, "\(listed)")
  }

  @Test func oneShotRunsCaptureOutputAndTimeOut() throws {
    let run = try ChildProcess.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 4"])
    #expect(run.termination == .exited(4))
    #expect(String(decoding: run.stdout, as: UTF8.self) == "out\n")
    #expect(String(decoding: run.stderr, as: UTF8.self) == "err\n")
    let slow = try ChildProcess.run(["/bin/sleep", "100000"], timeout: 1)
    #expect(slow.termination == nil, "timed out and killed")
  }

  /// `kill -9` of the parent: the parent-death signal kills the child too (no orphan).
  @Test func aChildDiesWithItsParent() throws {
    let parent = Process()
    parent.executableURL = builtExecutable("dlsmith-supervised-parent")
    parent.arguments = ["/bin/sleep", "100000"]
    let out = Pipe()
    parent.standardOutput = out
    try parent.run()
    // The parent prints the child's pid, then waits to be killed.
    var text = ""
    while !text.hasSuffix("\n") {
      let data = out.fileHandleForReading.availableData
      if data.isEmpty { break }
      text += String(decoding: data, as: UTF8.self)
    }
    let child = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), "\(text)")
    #expect(Self.alive(child))
    kill(parent.processIdentifier, SIGKILL)
    parent.waitUntilExit()
    #expect(Self.dies(child), "the child outlived its parent")
    if Self.alive(child) { kill(child, SIGKILL) }
  }
}

extension Result {
  fileprivate var failure: Failure? {
    if case .failure(let f) = self { return f }
    return nil
  }
}
