import Backends
import Foundation
import Fuzzing
import IR
import Operators
import Tensors
import Testing

@Suite struct SeedModelTests {
  /// The repository root, from this file's path (Tests/FuzzingTests/SeedModelTests.swift).
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  static func file(_ name: String) -> URL {
    root.appendingPathComponent("Corpus/seeds").appendingPathComponent(SeedModels.fileName(name))
  }

  static func model(_ name: String) -> Graph { SeedModels.model(named: name)! }

  /// The names of the passes that change the graph when the fast pipeline runs in order.
  static func firingPasses(_ graph: Graph) -> [String] {
    var g = graph
    var fired: [String] = []
    for p in Pass.all {
      let next = p.apply(g)
      if next != g { fired.append(p.name) }
      g = next
    }
    return fired
  }

  /// Passes expected to rewrite each seed (in pipeline order).
  static let expectedPasses: [String: Set<String>] = [
    "resnet_basic_block": ["bn-folding", "fusion", "layout"],
    "mobilenet_inverted_residual": ["bn-folding", "fusion", "layout"],
    "transformer_encoder_block": ["algebraic", "fusion"],
    "lenet_like": ["fusion", "layout"],
    "unet_like_up": ["bn-folding", "fusion", "layout"],
  ]
}

extension SeedModelTests {
  @Test func namesAreUniqueAndComplete() {
    #expect(Set(SeedModels.names).count == SeedModels.all.count)
    #expect(Set(SeedModels.floatNames) == Set(Self.expectedPasses.keys))
    #expect(Set(SeedModels.names) == Set(SeedModels.floatNames).union(SeedModels.lowBitBackends.keys))
    #expect(SeedModels.model(named: "no_such_model") == nil)
  }

  @Test(arguments: SeedModels.floatNames) func verifiesAndIsF32(_ name: String) throws {
    let g = Self.model(name)
    try g.verify()
    #expect(g.types.values.allSatisfy { $0.dtype == .f32 })
    #expect(g.constants.allSatisfy { $0.range.isFinite })
    #expect(g.nodes.count >= 5)
    // Building twice gives the same model.
    #expect(Self.model(name) == g)
  }

  @Test(arguments: SeedModels.names) func referenceOutputsAreFinite(_ name: String) throws {
    let g = Self.model(name)
    for seed: UInt64 in [1, 2] {
      let outputs = try ReferenceBackend().run(g, inputs: g.sampleInputs(seed: seed))
      #expect(outputs.count == g.outputs.count)
      for t in outputs {
        #expect(t.storage.allSatisfy { $0.isFinite })
        // Not collapsed to zero: the block's weights keep activations alive.
        #expect(t.storage.contains { $0 != 0 })
      }
    }
  }

  @Test(arguments: SeedModels.floatNames) func fastBackendAgrees(_ name: String) throws {
    let g = Self.model(name)
    let differential = Differential()
    for seed: UInt64 in [1, 2] {
      let inputs = g.sampleInputs(seed: seed)
      let values = try differential.referenceValues(g, inputs: inputs)
      for backend in [FastBackend(), FastBackend(passes: [])] {
        let outcome = differential.judge(backend, g, inputs: inputs, reference: values)
        #expect(outcome.verdict == .agree, "\(name), seed \(seed), \(backend.passes.count) passes")
      }
    }
  }

  @Test(arguments: SeedModels.floatNames) func fastPassesRewriteIt(_ name: String) throws {
    let g = Self.model(name)
    let fired = Set(Self.firingPasses(g))
    #expect(fired.isSuperset(of: Self.expectedPasses[name] ?? []), "\(name): fired \(fired.sorted())")
    let compiled = try FastBackend().compile(g)
    #expect(compiled.nodes.count < g.nodes.count)
  }

  /// Low-bit seeds take f32 inputs, and their optimized kernels agree with the reference bit for bit.
  @Test(arguments: SeedModels.lowBitBackends.keys.sorted()) func lowBitSeedRunsBitExactly(_ name: String)
    throws
  {
    let g = Self.model(name)
    try g.verify()
    #expect(g.inputs.allSatisfy { $0.type.dtype == .f32 })
    #expect(Self.model(name) == g)
    let backend = try #require(LowBitBackend(name: SeedModels.lowBitBackends[name]!))
    for seed: UInt64 in [1, 2] {
      let inputs = g.sampleInputs(seed: seed)
      let expected = try ReferenceBackend().run(g, inputs: inputs)
      let actual = try backend.run(g, inputs: inputs)
      #expect(
        zip(expected, actual).allSatisfy { e, a in
          e.shape == a.shape && zip(e.storage, a.storage).allSatisfy { $0.bitPattern == $1.bitPattern }
        }, "\(name) on \(backend.name), seed \(seed)")
    }
  }

  @Test func batchNormFoldingAndFusionFireOnTheResNetBlock() {
    let g = Self.model("resnet_basic_block")
    let folded = Pass.batchNormFolding.apply(g)
    #expect(folded != g)
    #expect(!folded.operators.contains("batch_norm"))
    #expect(Pass.linearFusion.apply(folded) != folded)
  }

  @Test(arguments: SeedModels.names) func committedFileMatches(_ name: String) throws {
    let encoded = Self.model(name).encoded()
    let url = Self.file(name)
    // Regenerate with DLSMITH_UPDATE_SEEDS=1 swift test --filter SeedModelTests.
    if ProcessInfo.processInfo.environment["DLSMITH_UPDATE_SEEDS"] == "1" {
      try FileManager.default.createDirectory(
        at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try encoded.write(to: url, options: .atomic)
    }
    let committed = try Data(contentsOf: url)
    #expect(committed == encoded, "\(url.path) is stale: rerun with DLSMITH_UPDATE_SEEDS=1")
    // The file reads back to the same (verified) model.
    let read = try Graph(contentsOf: url.path)
    #expect(read == Self.model(name))
  }
}
