import Operators
import Tensors
import TestSupport
import Testing

@Suite struct ElementwiseTests {
  func run(_ id: String, _ inputs: [Tensor], _ attrs: [String: AttributeValue] = [:]) -> Tensor {
    Catalogue.spec(id)!.evaluate(inputs, attributes: Attributes(attrs))[0]
  }
}

extension ElementwiseTests {
  @Test func unaryHandComputed() {
    let x = tensor([-2, -0.5, 0, 0.5, 2, .nan], [6])
    #expect(run("relu", [x]).storage.prefix(5) == [0, 0, 0, 0.5, 2])
    #expect(run("relu", [x]).storage[5].isNaN)
    // Float attributes are float32: alpha 0.1 is float32(0.1) = 0.10000000149011612.
    let a = Double(Float(0.1))
    #expect(
      run("leaky_relu", [x], ["alpha": .float(0.1)]).storage.prefix(5) == [-2 * a, -0.5 * a, 0, 0.5, 2])
    #expect(run("sign", [tensor([-3, -0.0, 0, 4], [4])]).storage == [-1, 0, 0, 1])
    #expect(run("round", [tensor([0.5, 1.5, 2.5, -0.5, -2.5, 2.4], [6])]).storage == [0, 2, 2, -0, -2, 2])
    #expect(run("floor", [tensor([-1.5, 1.5], [2])]).storage == [-2, 1])
    #expect(run("ceil", [tensor([-1.5, 1.5], [2])]).storage == [-1, 2])
    #expect(
      run("clip", [x], ["min": .float(-1), "max": .float(1)]).storage.prefix(5) == [-1, -0.5, 0, 0.5, 1])
    #expect(run("clip", [tensor([0], [1])], ["min": .float(2), "max": .float(1)]).storage == [1])
    #expect(isClose(run("sigmoid", [tensor([0], [1])]).storage[0], 0.5))
    #expect(isClose(run("gelu", [tensor([1], [1])]).storage[0], 0.8413447460685429))
    #expect(isClose(run("softplus", [tensor([0, 100], [2])]).storage, [0.6931471805599453, 100]))
    // HardSwish's alpha is ONNX's float32(1/6).
    #expect(run("hard_swish", [tensor([-4, 1, 4], [3])]).storage == [0, Double(Float(1.0 / 6)) + 0.5, 4])
    // ONNX Selu's gamma as the float32 attribute it is.
    #expect(run("selu", [tensor([1], [1])]).storage[0] == 1.05070102214813232421875)
  }

  @Test func resultsAreRoundedToTheOpDType() {
    let x = Tensor(dtype: .f16, shape: [1], storage: [2048])
    let one = Tensor(dtype: .f16, shape: [1], storage: [1])
    // 2048 + 1 = 2049 is not representable in f16: ties to even gives 2048.
    #expect(run("add", [x, one]).storage == [2048])
    let third = run(
      "div", [Tensor(dtype: .f32, shape: [], storage: [1]), Tensor(dtype: .f32, shape: [], storage: [3])])
    #expect(third.storage[0] == Double(Float(1.0 / 3.0)))
  }

  @Test func binaryHandComputed() {
    let a = tensor([1, 2, 3, 4, 5, 6], [2, 3])
    let b = tensor([10, 20, 30], [3])
    #expect(run("add", [a, b]).storage == [11, 22, 33, 14, 25, 36])
    #expect(run("sub", [b, a]).storage == [9, 18, 27, 6, 15, 24])
    #expect(run("max", [tensor([1, .nan], [2]), tensor([2, 0], [2])]).storage[1].isNaN)
    #expect(run("min", [tensor([1, 5], [2]), tensor([2, 0], [2])]).storage == [1, 0])
    let i = Tensor(dtype: .i32, shape: [3], storage: [7, -7, 7])
    let j = Tensor(dtype: .i32, shape: [3], storage: [2, 2, -2])
    #expect(run("div", [i, j]).storage == [3, -3, -3])
    #expect(run("pow", [tensor([2, 4], [2]), tensor([3, 0.5], [2])]).storage == [8, 2])
    let big = Tensor(dtype: .i32, shape: [1], storage: [2_147_483_647])
    #expect(run("add", [big, Tensor(dtype: .i32, shape: [1], storage: [1])]).storage == [-2_147_483_648])
  }

  @Test func comparisonsLogicalWhereCast() {
    let a = tensor([1, 2, .nan], [3])
    let b = tensor([2, 2, .nan], [3])
    let lt = run("less", [a, b])
    #expect(lt.dtype == .bool)
    #expect(lt.storage == [1, 0, 0])
    #expect(run("equal", [a, b]).storage == [0, 1, 0])
    #expect(run("greater_equal", [a, b]).storage == [0, 1, 0])
    let t = Tensor(dtype: .bool, shape: [2], storage: [1, 0])
    let f = Tensor(dtype: .bool, shape: [2, 1], storage: [1, 0])
    #expect(run("logical_xor", [t, f]).storage == [0, 1, 1, 0])
    #expect(run("logical_not", [t]).storage == [0, 1])
    let w = run("where", [t, tensor([1, 2], [2]), tensor([9], [1])])
    #expect(w.storage == [1, 9])
    let c = run("cast", [tensor([2.7, -2.7, .nan, 1e10], [4])], ["to": .string("i32")])
    #expect(c.dtype == .i32)
    #expect(c.storage == [2, -2, 0, Double(Int32(truncatingIfNeeded: Int64(1e10)))])
    #expect(run("cast", [tensor([0.1], [1])], ["to": .string("f16")]).storage == [Double(Float16(0.1))])
  }
}
