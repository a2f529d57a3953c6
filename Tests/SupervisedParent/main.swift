// A parent for the parent-death test (SupervisionTests): starts COMMAND... as a `ChildProcess`
// (the way `Supervisor` starts every child), prints the child's pid on stdout, and waits to be
// killed. The test kills this process with SIGKILL and checks that the child dies with it.
//
//   dlsmith-supervised-parent COMMAND [ARG...]
import Foundation
import Supervision

let command = Array(CommandLine.arguments.dropFirst())
guard !command.isEmpty else {
  FileHandle.standardError.write(Data("usage: dlsmith-supervised-parent COMMAND [ARG...]\n".utf8))
  exit(64)
}
do {
  let child = try ChildProcess(command: command, stdin: 0, stdout: 2, stderr: 2)
  FileHandle.standardOutput.write(Data("\(child.pid)\n".utf8))
  while true { sleep(1000) }
} catch {
  FileHandle.standardError.write(Data("cannot start \(command[0]): \(error)\n".utf8))
  exit(1)
}
