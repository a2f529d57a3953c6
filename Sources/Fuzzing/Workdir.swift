import Foundation

/// File-system primitives of a campaign folder: atomic publication, fsync, the lock.
///
/// Every artifact is written under `.dlsmith/tmp/`, fsynced, then renamed into place (same file
/// system), and the parent directory is fsynced: a finding is either wholly present or absent, even
/// after `kill -9` or power loss.
public enum Workdir {
  public static func fsync(path: String) {
    let fd = open(path, O_RDONLY)
    if fd >= 0 {
      _ = Glibc.fsync(fd)
      close(fd)
    }
  }

  /// Writes `data` to `path` durably.
  public static func writeFile(_ data: Data, to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: data) else {
      throw CampaignError("\(path): cannot write")
    }
    fsync(path: path)
  }

  /// Atomically replaces `path` with `data` (temp file in the same directory, fsync, rename).
  public static func replaceFile(_ data: Data, at path: String) throws {
    let tmp = path + ".tmp-\(getpid())"
    try writeFile(data, to: tmp)
    guard rename(tmp, path) == 0 else {
      throw CampaignError("\(path): cannot rename into place (errno \(errno))")
    }
    fsync(path: (path as NSString).deletingLastPathComponent)
  }

  /// Moves a fully written temporary directory into place. Returns false if `destination` already
  /// exists (the same artifact was published before: publication is idempotent).
  public static func publish(_ temporary: String, to destination: String) throws -> Bool {
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] {
      fsync(path: temporary + "/" + entry)
    }
    fsync(path: temporary)
    if FileManager.default.fileExists(atPath: destination) {
      try? FileManager.default.removeItem(atPath: temporary)
      return false
    }
    try FileManager.default.createDirectory(
      atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    if rename(temporary, destination) != 0 {
      if errno == EEXIST || errno == ENOTEMPTY {
        try? FileManager.default.removeItem(atPath: temporary)
        return false
      }
      throw CampaignError("\(destination): cannot publish (errno \(errno))")
    }
    fsync(path: (destination as NSString).deletingLastPathComponent)
    return true
  }

  /// An exclusive, non-blocking lock held for the life of the returned descriptor.
  public static func lock(_ path: String) throws -> Int32 {
    let fd = open(path, O_RDWR | O_CREAT, 0o644)
    guard fd >= 0 else { throw CampaignError("\(path): cannot open lock file") }
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      let owner =
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        ?? "?"
      close(fd)
      throw CampaignError("another campaign is running on this folder (pid \(owner)); lock \(path)")
    }
    ftruncate(fd, 0)
    let pid = "\(getpid())\n"
    _ = pid.withCString { write(fd, $0, strlen($0)) }
    return fd
  }

  /// Whether some process holds the lock file at `path` (`lock`).
  public static func lockHeld(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    if flock(fd, LOCK_SH | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return false
    }
    return true
  }
}

/// A campaign-level problem (bad folder, lock held, I/O): the CLI reports it and exits 1.
public struct CampaignError: Error, CustomStringConvertible {
  public let description: String
  public init(_ d: String) { description = d }
}
