// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "dlsmith",
  products: [.executable(name: "dlsmith", targets: ["dlsmith"])],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
  ],
  targets: [
    // MARK: - System libraries (each imported by exactly one Swift target)
    .systemLibrary(name: "CZ3", pkgConfig: "z3", providers: [.apt(["libz3-dev"])]),
    .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

    // MARK: - Libraries, in dependency order
    .target(name: "Symbolic"),
    .target(name: "Tensors"),
    .target(name: "SMT", dependencies: ["Symbolic", "CZ3"]),
    .target(name: "Inference", dependencies: ["Symbolic", "SMT", "Tensors"]),
    // Runtime-dispatched AVX2 / AVX-512 low-bit kernels (C with per-function target attributes).
    .target(name: "CLowBit"),
    .target(name: "Kernels", dependencies: ["Tensors", "CBLAS", "CLowBit"]),
    .target(name: "Operators", dependencies: ["Symbolic", "Tensors", "Kernels"]),
    .target(name: "IR", dependencies: ["Symbolic", "Tensors", "Operators"]),
    .target(name: "Backends", dependencies: ["Symbolic", "Tensors", "Kernels", "Operators", "IR"]),
    .target(
      name: "Generation",
      dependencies: ["Symbolic", "Tensors", "SMT", "Kernels", "Operators", "IR", "Backends"]),
    .target(
      name: "ONNX",
      dependencies: [
        "Symbolic", "Tensors", "Operators", "IR", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ]),
    // Child processes: spawning (C), the supervisor and its framed protocol.
    .target(name: "CProcess"),
    .target(name: "Supervision", dependencies: ["CProcess"]),
    .target(
      name: "Rulebook",
      dependencies: ["Inference", "Operators", "IR", "Backends", "Tensors", "Symbolic", "Supervision"]),
    .target(
      name: "Fuzzing",
      dependencies: [
        "Symbolic", "Tensors", "Kernels", "Operators", "IR", "Backends", "Generation", "ONNX", "Supervision",
      ]),

    // MARK: - Tool (thin front end)
    .executableTarget(
      name: "dlsmith",
      dependencies: [
        "Symbolic", "Tensors", "Kernels", "Operators", "IR", "Backends", "Generation", "ONNX", "Rulebook",
        "Fuzzing", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    // MARK: - Tests
    .executableTarget(
      name: "dlsmith-faulty-worker", dependencies: ["Tensors", "Operators", "IR", "Backends", "Fuzzing"],
      path: "Tests/FaultyWorker"),
    .executableTarget(
      name: "dlsmith-supervised-parent", dependencies: ["Supervision"], path: "Tests/SupervisedParent"),
    .target(name: "TestSupport", dependencies: ["IR", "Operators", "Tensors"], path: "Tests/TestSupport"),
    .testTarget(name: "SymbolicTests", dependencies: ["Symbolic"]),
    .testTarget(name: "SupervisionTests", dependencies: ["Supervision", "TestSupport"]),
    .testTarget(name: "SMTTests", dependencies: ["SMT", "Symbolic"]),
    .testTarget(name: "InferenceTests", dependencies: ["Inference", "Symbolic", "Tensors"]),
    .testTarget(name: "KernelsTests", dependencies: ["Kernels", "Tensors", "TestSupport"]),
    .testTarget(
      name: "OperatorsTests",
      dependencies: ["Symbolic", "Tensors", "SMT", "Operators", "IR", "Backends", "TestSupport"]),
    .testTarget(name: "IRTests", dependencies: ["Tensors", "Operators", "IR", "TestSupport"]),
    .testTarget(
      name: "GenerationTests",
      dependencies: ["Tensors", "Operators", "IR", "Backends", "Generation", "TestSupport"]),
    .testTarget(
      name: "BackendsTests",
      dependencies: ["Backends", "Kernels", "Operators", "IR", "Symbolic", "Tensors", "TestSupport"]),
    .testTarget(
      name: "FuzzingTests",
      dependencies: [
        "Tensors", "Kernels", "Operators", "IR", "Backends", "Generation", "ONNX", "Fuzzing", "TestSupport",
      ],
      // Golden data, read by path (`#filePath`).
      exclude: ["Fixtures"]),
    .testTarget(
      name: "ONNXTests",
      dependencies: ["Tensors", "Operators", "IR", "Backends", "Generation", "ONNX", "TestSupport"]),
    .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
    .testTarget(
      name: "RulebookTests",
      dependencies: ["Rulebook", "Inference", "Generation", "IR", "ONNX", "Operators", "Symbolic", "Tensors"]),
  ]
)
