import Foundation
import Symbolic
import Tensors
import Testing

@testable import Inference

/// Held-out quality of an inferred rule.
struct Accuracy: CustomStringConvertible {
  var records = 0
  var valid = 0
  /// Truly invalid calls the rule accepts.
  var falseValid = 0
  /// Truly valid calls the rule rejects.
  var falseInvalid = 0
  /// Truly valid calls the rule accepts with a wrong shape.
  var wrongShape = 0

  init(rule: InferredRule, records: [Record]) {
    for r in records {
      self.records += 1
      let predicted = rule.apply(r.symbols)
      if let truth = r.outputs {
        valid += 1
        if let predicted {
          if predicted != truth { wrongShape += 1 }
        } else {
          falseInvalid += 1
        }
      } else if predicted != nil {
        falseValid += 1
      }
    }
  }

  var description: String {
    "held-out \(records) (\(valid) valid): false-valid \(falseValid), false-invalid \(falseInvalid), "
      + "wrong shape \(wrongShape)"
  }
}

/// Infers a ground truth's rule from generated traces, prints it, and measures it on held-out data.
func infer(
  _ truth: GroundTruth, seed: UInt64 = 1, bases: Int = 40, augmentLimit: Int = 2_000
) -> (InferredRule, Accuracy) {
  let set = truth.training(seed: seed, bases: bases, augmentLimit: augmentLimit)
  let verbose = ProcessInfo.processInfo.environment["INFERENCE_TRACE"] != nil
  let log: (@Sendable (String) -> Void)? = verbose ? { @Sendable line in print("  " + line) } : nil
  let rule = Synthesizer(log: log).infer(set)
  let accuracy = Accuracy(rule: rule, records: truth.heldOut(seed: seed &+ 1_000))
  let seconds = (rule.seconds * 100).rounded() / 100
  print("[\(truth.name)] \(seconds) s, \(set.records.count) records: \(rule)")
  print("[\(truth.name)] \(accuracy)")
  return (rule, accuracy)
}

/// Semantic equality of two expressions on the valid records of a held-out set.
func agrees(_ d: Dim, _ expected: Dim, on records: [Record], names: [String]) -> Bool {
  var index: [String: Int] = [:]
  for (i, n) in names.enumerated() { index[n] = i }
  return records.filter(\.isValid).allSatisfy { r in
    let lookup = { (s: String) in index[s].map { r.symbols[$0] } }
    return d.evaluated(lookup) == expected.evaluated(lookup)
  }
}

@Suite(.serialized) struct InferenceTests {}

// MARK: - Records

extension InferenceTests {
  @Test func recordsRoundTripThroughJSONLines() throws {
    let set = RecordSet(
      partial: PartialOperator(
        op: "Conv", key: "f32,f32;auto_pad=NOTSET", symbolNames: ["x0.0", "w.2"], outputRanks: [1, 2]),
      records: [
        .valid([3, -1], [[2], [4, 5]]), .invalid([0, 2], "kernel too big\nsecond line"),
        .invalid([-2, 2], ""), .valid([7, 7], [[], [1, 1]]),
      ])
    let text = set.encoded()
    let lines = text.split(separator: "\n")
    #expect(lines.count == 5)
    #expect(lines[1] == "[3,-1] -> [[2],[4,5]]")
    #expect(lines[2] == "[0,2] !! kernel too big second line")
    #expect(lines[3] == "[-2,2] !! ")
    let back = try RecordSet(decoding: "# comment\n" + text + "\n")
    #expect(back.partial == set.partial)
    #expect(back.records.map(\.symbols) == set.records.map(\.symbols))
    #expect(back.records.map(\.outputs) == set.records.map(\.outputs))
    #expect(back.records[1].error == "kernel too big second line")
    #expect(back.records[2].error == nil)
  }

  @Test func malformedRecordLinesAreReported() {
    #expect(throws: RecordFormatError.self) {
      try RecordSet(
        decoding: "{\"key\":\"\",\"op\":\"a\",\"outputRanks\":[1],\"symbolNames\":[\"a\"]}\n[1 -> [[1]]")
    }
    #expect(throws: RecordFormatError.self) { try RecordSet(decoding: "not json\n[1] -> [[1]]") }
    #expect(throws: RecordFormatError.self) { try RecordSet.decodeRecord("[1,2] => [[3]]") }
  }

  @Test func augmentationMutatesOneStepAndRespectsTheLimit() {
    let set = RecordSet(
      partial: PartialOperator(op: "t", key: "", symbolNames: ["a", "b", "c"], outputRanks: [1]),
      records: [.valid([4, 4, 9], [[1]]), .invalid([1, 1, 1])])
    let all = set.augmented(limit: 10_000)
    #expect(Set(all).count == all.count)
    #expect(!all.contains([4, 4, 9]))
    #expect(all.contains([0, 4, 9]) && all.contains([4, -2, 9]))  // set to 0 / -2
    #expect(all.contains([9, 4, 4]))  // swap
    #expect(all.contains([4, 5, 9]))  // de-alias equal values
    #expect(all.contains([4, 4, 12]) && all.contains([1, 4, 9]))  // ±3
    for v in all { #expect(zip(v, [4, 4, 9]).filter { $0 != $1 }.count <= 2) }
    let few = set.augmented(limit: 5, seed: 7)
    #expect(few.count == 5)
    #expect(few == set.augmented(limit: 5, seed: 7))
    #expect(few.allSatisfy { all.contains($0) })
  }

  @Test func ruleEncodesAsTextAndApplies() throws {
    let rule = InferredRule(
      symbolNames: ["a", "b"], outputs: [[.symbol("a") + .symbol("b")]], requires: [.symbol("a") .>= 1],
      support: 3, outputSupport: [[3]], validRecords: 3, invalidRecords: 1, rejectedInvalid: 1,
      complete: true, seconds: 0)
    #expect(rule.apply([2, 3]) == [[5]])
    #expect(rule.apply([0, 3]) == nil)
    let json = try JSONEncoder().encode(rule)
    #expect(String(decoding: json, as: UTF8.self).contains("\"a + b\""))
    #expect(try JSONDecoder().decode(InferredRule.self, from: json) == rule)
  }

  @Test func predicatesPrintWithTermsOnBothSides() throws {
    let cases: [(String, Comparison, String)] = [
      ("1 - a % b", .ge, "a % b <= 1"), ("a - b", .eq, "a == b"), ("0 - a", .gt, "a < 0"),
      ("h + p + q + d - d * k - 1", .ge, "h + p + q + d >= d * k + 1"), ("a + 2", .gt, "a > -2"),
      ("a / b", .eq, "a / b == 0"),
    ]
    for (e, c, text) in cases {
      #expect(PredicateSynthesizer.constraint(try Dim(parsing: e), c).description == text)
    }
  }

  @Test func unusableSymbolNamesFallBackToPositions() {
    let p = PartialOperator(op: "t", key: "", symbolNames: ["x0.0", "max", "2x", "x0.0"], outputRanks: [])
    #expect(Synthesizer.symbolNames(p, count: 5) == ["x0.0", "s1", "s2", "s3", "s4"])
  }
}

// MARK: - Ground truths

extension InferenceTests {
  @Test func emptyBudgetStillGivesARule() {
    let set = Truths.concat.training(seed: 3, bases: 10, augmentLimit: 200)
    let rule = Synthesizer(budgetSeconds: 0).infer(set)
    #expect(rule.outputs.map(\.count) == [2])
    #expect(rule.validRecords + rule.invalidRecords == set.records.count)
  }

  @Test func twoOutputsAreSolvedPerDimension() {
    let (rule, accuracy) = infer(Truths.split)
    #expect(rule.complete)
    #expect(
      rule.outputs.map { $0.map(\.description) } == [["x0.0 / 2", "x0.1"], ["x0.0 - x0.0 / 2", "x0.1"]])
    #expect(accuracy.falseValid == 0 && accuracy.wrongShape == 0)
  }
}

extension InferenceTests {
  @Test func elementwiseIdentity() {
    let (rule, accuracy) = infer(Truths.elementwise)
    #expect(rule.complete)
    #expect(rule.outputs.flatMap { $0 }.map(\.description) == ["x0.0", "x0.1"])
    #expect(accuracy.falseValid == 0 && accuracy.wrongShape == 0)
  }

  @Test func broadcastingMaximum() {
    let (rule, accuracy) = infer(Truths.broadcast)
    #expect(rule.support == rule.validRecords)
    #expect(rule.outputs.flatMap { $0 }.map(\.description) == ["max(x0.0, x1.0)", "max(x0.1, x1.1)"])
    #expect(accuracy.wrongShape == 0)
  }

  @Test func matmul() {
    let (rule, accuracy) = infer(Truths.matmul)
    #expect(rule.complete)
    #expect(rule.outputs.flatMap { $0 }.map(\.description) == ["x0.0", "x1.1"])
    #expect(rule.requires.contains(.symbol("x0.1") .== .symbol("x1.0")))
    #expect(accuracy.falseValid == 0 && accuracy.wrongShape == 0)
  }

  @Test func reshapeLikeProduct() {
    let (rule, accuracy) = infer(Truths.flatten)
    #expect(rule.complete)
    #expect(rule.outputs.flatMap { $0 }.map(\.description) == ["x0.0", "x0.1 * x0.2"])
    #expect(accuracy.falseValid == 0 && accuracy.wrongShape == 0)
  }

  @Test func reshapeRequiresEqualProducts() throws {
    let (rule, accuracy) = infer(Truths.reshape)
    #expect(rule.complete)
    #expect(rule.outputs.flatMap { $0 }.map(\.description) == ["shape.0", "shape.1"])
    let product = try Constraint(parsing: "x0.0 * x0.1 == shape.0 * shape.1")
    let mirrored = try Constraint(parsing: "shape.0 * shape.1 == x0.0 * x0.1")
    #expect(rule.requires.contains(product) || rule.requires.contains(mirrored))
    #expect(accuracy.falseValid == 0 && accuracy.wrongShape == 0)
  }

  @Test func concatSum() {
    let (rule, accuracy) = infer(Truths.concat)
    #expect(rule.complete)
    #expect(rule.outputs.flatMap { $0 }.map(\.description) == ["x0.0 + x1.0", "x0.1"])
    #expect(accuracy.falseValid == 0 && accuracy.wrongShape == 0)
  }

  @Test func sliceClampsWithMinimum() {
    let (rule, accuracy) = infer(Truths.slice)
    #expect(rule.complete)
    let expected = Dim.minimum(.symbol("x0.0"), .symbol("ends.0")) - .symbol("starts.0")
    let same = agrees(
      rule.outputs[0][0], expected, on: Truths.slice.heldOut(seed: 5), names: Truths.slice.symbolNames)
    #expect(same, "slice rule \(rule.outputs[0][0])")
    #expect(accuracy.falseValid == 0 && accuracy.wrongShape == 0)
  }

  @Test func poolingSpatialRuleWithFloor() throws {
    let truth = Truths.pool2d
    let (rule, accuracy) = infer(truth, bases: 50, augmentLimit: 2_500)
    #expect(rule.support == rule.validRecords)
    let o = rule.outputs[0]
    let (h, k, s, pb, pe) = (
      Dim.symbol("x0.2"), Dim.symbol("kernel.0"), Dim.symbol("strides.0"), Dim.symbol("pads.0"),
      Dim.symbol("pads.2")
    )
    let held = truth.heldOut(seed: 9)
    let same = agrees(o[2], (h + pb + pe - k) / s + 1, on: held, names: truth.symbolNames)
    #expect(same, "pool rule \(o[2])")
    #expect(accuracy.falseValid == 0 && accuracy.wrongShape == 0)
  }

  @Test func convolutionSpatialRuleAndPredicates() throws {
    let truth = Truths.conv2d
    let (rule, accuracy) = infer(truth, bases: 60, augmentLimit: 3_000)
    #expect(rule.support == rule.validRecords)
    let o = rule.outputs[0]
    #expect(o[0] == .symbol("x0.0") && o[1] == .symbol("w.0"))
    let sym = Dim.symbol
    let held = truth.heldOut(seed: 11)
    let oh =
      (sym("x0.2") + sym("pads.0") + sym("pads.2") - sym("dilations.0") * (sym("w.2") - 1) - 1)
      / sym("strides.0") + 1
    let ow =
      (sym("x0.3") + sym("pads.1") + sym("pads.3") - sym("dilations.1") * (sym("w.3") - 1) - 1)
      / sym("strides.1") + 1
    let (sameH, sameW) = (
      agrees(o[2], oh, on: held, names: truth.symbolNames),
      agrees(o[3], ow, on: held, names: truth.symbolNames)
    )
    #expect(sameH, "conv rule \(o[2])")
    #expect(sameW, "conv rule \(o[3])")
    let complete = rule.complete
    #expect(complete)
    #expect(accuracy.falseValid == 0)
    #expect(accuracy.wrongShape == 0)
  }
}
