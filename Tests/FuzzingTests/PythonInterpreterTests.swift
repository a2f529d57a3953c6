import Foundation
import Fuzzing
import TestSupport
import Testing

/// Which Python the workers of Python targets run in (`PythonInterpreter`).
struct PythonInterpreterTests {
  /// A folder tree `root/a/b` with an executable `root/.venv/bin/python3`.
  static func tree() throws -> (root: URL, deep: URL, venvPython: String) {
    let root = temporaryDirectory()
    let deep = root.appendingPathComponent("a/b")
    try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
    let bin = root.appendingPathComponent(".venv/bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    let python = bin.appendingPathComponent("python3").path
    try writeExecutable("#!/bin/sh\n", to: python)
    return (root, deep, python)
  }

  @Test func theFlagWinsThenTheVariableThenAVenvAboveAPlace() throws {
    let t = try Self.tree()
    let env = ["DLSMITH_PYTHON": "/opt/py/bin/python3"]
    #expect(
      PythonInterpreter.resolve(flag: "/x/python", environment: env, places: [t.deep.path]) == "/x/python")
    #expect(
      PythonInterpreter.resolve(flag: nil, environment: env, places: [t.deep.path]) == "/opt/py/bin/python3")
    #expect(PythonInterpreter.resolve(flag: nil, environment: [:], places: [t.deep.path]) == t.venvPython)
    // The first place with a .venv above it wins.
    let other = try Self.tree()
    #expect(
      PythonInterpreter.resolve(flag: nil, environment: [:], places: [other.deep.path, t.deep.path])
        == other.venvPython)
  }

  @Test func withoutAnyItIsPython3OnThePath() {
    let bare = temporaryDirectory().appendingPathComponent("x")
    // /tmp and / have no .venv on these machines; a folder that does not exist is walked up too.
    #expect(PythonInterpreter.resolve(flag: nil, environment: [:], places: [bare.path]) == "python3")
    #expect(PythonInterpreter.resolve(flag: "", environment: ["DLSMITH_PYTHON": ""], places: []) == "python3")
  }

  /// A campaign against a Python target finds the .venv next to its folder.
  @Test func aCampaignUsesTheVenvNextToItsFolder() throws {
    let t = try Self.tree()
    // This .venv's python3 logs its arguments and fails: the campaign's worker must be it.
    let log = t.root.appendingPathComponent("called").path
    try writeExecutable("#!/bin/sh\necho \"$@\" >> \(log)\nexit 3\n", to: t.venvPython)
    _ = try runDLSmith(
      [
        "fuzz", "-o", t.deep.path, "--backends", "onnx-ref", "--max-models", "1", "--seed", "1",
        "--no-consensus",
      ], cwd: FileManager.default.temporaryDirectory, environment: ["DLSMITH_PYTHON": nil])
    let called = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    #expect(called.contains("--backend onnx-ref"), "the worker ran in \(t.venvPython): \(called)")
  }
}
