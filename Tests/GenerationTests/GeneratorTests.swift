import Backends
import Foundation
import Generation
import IR
import Operators
import Tensors
import TestSupport
import Testing

@Suite struct GeneratorTests {}

extension GeneratorTests {
  /// 500 seeds at 5, 10 and 20 nodes: every model verifies and runs on the reference.
  @Test(arguments: [5, 10, 20])
  func everyModelVerifiesAndExecutes(_ nodes: Int) throws {
    var options = GeneratorOptions()
    options.nodes = nodes
    var generator = Generator(options: options)
    let reference = ReferenceBackend()
    var finite = 0
    var total = 0
    for seed in UInt64(0)..<500 {
      let g = generator.generate(seed: seed)
      try g.verify()
      #expect(g.nodes.count >= nodes / 2 && g.nodes.count <= nodes, "seed \(seed): \(g.nodes.count) nodes")
      let outputs = try reference.run(g, inputs: g.sampleInputs(seed: 0))
      total += g.nodes.count
      if outputs.allSatisfy(\.isFinite) { finite += 1 }
    }
    #expect(finite >= 490, "finite outputs in \(finite)/500 models")
    #expect(total >= 500 * nodes * 9 / 10, "\(total) nodes over 500 models")
  }

  @Test(arguments: ["f16", "bf16", "f64", "mixed"])
  func otherDTypes(_ dtype: String) throws {
    var options = GeneratorOptions()
    options.dtype = DType(rawValue: dtype)
    var generator = Generator(options: options)
    var dtypes = Set<DType>()
    for seed in UInt64(0)..<60 {
      let g = generator.generate(seed: seed)
      try g.verify()
      _ = try ReferenceBackend().run(g, inputs: g.sampleInputs(seed: 0))
      for i in g.inputs { dtypes.insert(i.type.dtype) }
      if let d = options.dtype {
        #expect(g.inputs.allSatisfy { !$0.type.dtype.isFloat || $0.type.dtype == d })
      }
    }
    if options.dtype == nil { #expect(dtypes.filter(\.isFloat).count >= 3) }
  }

  @Test func sameSeedSameBytesDifferentSeedDifferentModel() {
    var a = Generator(options: GeneratorOptions())
    var b = Generator(options: GeneratorOptions())
    // b has generated other models before: that must not change the model for a seed.
    for s in UInt64(100)..<120 { _ = b.generate(seed: s) }
    for seed in UInt64(0)..<30 {
      #expect(a.generate(seed: seed).encoded() == b.generate(seed: seed).encoded())
    }
    #expect(a.generate(seed: 1).encoded() != a.generate(seed: 2).encoded())
  }

  @Test func operatorSelectionIsRespected() throws {
    var options = GeneratorOptions()
    guard
      case .success(let ops) = GeneratorOptions.selectOperators(
        include: ["conv2d", "relu", "add", "max_pool2d"], exclude: ["add"])
    else {
      Issue.record("selection failed")
      return
    }
    options.operators = ops
    var generator = Generator(options: options)
    for seed in UInt64(0)..<40 {
      let g = generator.generate(seed: seed)
      try g.verify()
      #expect(g.nodes.allSatisfy { ["conv2d", "relu", "max_pool2d"].contains($0.op) })
    }
    if case .success = GeneratorOptions.selectOperators(include: ["nope"], exclude: []) {
      Issue.record("unknown op accepted")
    }
  }

  @Test func boundsAreRespected() throws {
    var options = GeneratorOptions()
    options.maxElements = 256
    options.maxRank = 3
    var generator = Generator(options: options)
    for seed in UInt64(0)..<100 {
      let g = generator.generate(seed: seed)
      for t in g.types.values {
        #expect(t.elementCount <= 256)
        #expect(t.shape.count <= 3)
      }
    }
  }

  @Test func diversityAcrossSeeds() {
    var generator = Generator(options: GeneratorOptions())
    var ops = Set<String>()
    var shapes = Set<[Int]>()
    for seed in UInt64(0)..<200 {
      let g = generator.generate(seed: seed)
      for n in g.nodes {
        ops.insert(n.op)
        for t in n.types { shapes.insert(t.shape) }
      }
    }
    #expect(
      ops.count >= Catalogue.all.count * 9 / 10, "used \(ops.count) of \(Catalogue.all.count) operators")
    #expect(shapes.count >= 300)
  }
}

extension GeneratorTests {
  /// Mutation: growing an existing model keeps it valid, keeps its nodes, and is deterministic.
  @Test func extendGrowsAModelDeterministically() throws {
    var options = GeneratorOptions()
    options.nodes = 6
    var generator = Generator(options: options)
    for seed in UInt64(0)..<40 {
      let base = generator.generate(seed: seed)
      guard let grown = generator.extend(base, seed: seed &+ 1000) else { continue }
      try grown.verify()
      #expect(grown.nodes.count > base.nodes.count)
      #expect(grown.nodes.count <= base.nodes.count + options.nodes)
      #expect(generator.extend(base, seed: seed &+ 1000)?.encoded() == grown.encoded())
      let outputs = try ReferenceBackend().run(grown, inputs: grown.sampleInputs(seed: 0))
      let finite = outputs.allSatisfy { $0.isFinite }
      #expect(finite)
      // The base model's operators are all still there, in order (new nodes may come before,
      // between — by backward insertion — or after them).
      var i = 0
      for n in grown.nodes
      where i < base.nodes.count && n.op == base.nodes[i].op && n.attributes == base.nodes[i].attributes {
        i += 1
      }
      #expect(i == base.nodes.count)
    }
  }
}
