import ONNX
import Testing

@Suite struct ProtoTests {
  @Test func generatedMessagesRoundTrip() throws {
    var node = Onnx_NodeProto()
    node.opType = "Add"
    node.input = ["a", "b"]
    node.output = ["y"]
    var model = Onnx_ModelProto()
    model.irVersion = 10
    model.graph.node = [node]
    let bytes = try model.serializedData()
    #expect(try Onnx_ModelProto(serializedBytes: bytes) == model)
    #expect(ONNX.dtype(elementType: ONNX.elementType(.bf16)) == .bf16)
  }
}
