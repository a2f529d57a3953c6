import Backends
import Foundation
import IR
import Supervision
import Tensors

/// Messages between the campaign and its worker processes, in the frames of `Supervisor`'s
/// protocol: a 4-byte little-endian length, then that many bytes of JSON.
///
/// campaign → worker: `WorkerRequest` (the model file bytes and the input tensors).
/// worker → campaign: zero or more `WorkerEvent`s (`compiled`, so a hang or crash is attributed to the
/// right stage), then one `WorkerResponse`.
public struct WorkerRequest: Codable, Sendable {
  public var model: Data
  public var inputs: [EncodedTensor]
  /// The model as ONNX bytes, for targets that need it (`BackendTarget.sendsONNX`); omitted otherwise.
  public var onnx: Data? = nil
  /// Asks the worker which nodes its target's optimizer rewrote (`WorkerMessage.rewritten`);
  /// omitted when not asked.
  public var rewrites: Bool? = nil
  public init(model: Data, inputs: [EncodedTensor], onnx: Data? = nil, rewrites: Bool? = nil) {
    self.model = model
    self.inputs = inputs
    self.onnx = onnx
    self.rewrites = rewrites
  }
}

public struct WorkerMessage: Codable, Sendable {
  /// "compiled", or "result" for the final message.
  public var event: String
  public var outputs: [EncodedTensor]?
  public var stage: String?
  public var error: String?
  public var unsupported: String?
  /// With the result, when asked and the worker knows: the first output names (`vN`) of the model's
  /// nodes that the target's optimizer rewrote (removed, or fused into another operator).
  public var rewritten: [String]?
}

/// A tensor with its values as the base64 of little-endian float64 bit patterns (bit-exact, NaN kept).
public struct EncodedTensor: Codable, Sendable, Equatable {
  public var dtype: DType
  public var shape: [Int]
  public var bits: String

  public init(_ t: Tensor) {
    dtype = t.dtype
    shape = t.shape
    var data = Data(capacity: t.count * 8)
    for x in t.storage { withUnsafeBytes(of: x.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
    bits = data.base64EncodedString()
  }

  public var tensor: Tensor? {
    guard let data = Data(base64Encoded: bits), data.count == shape.reduce(1, *) * 8 else { return nil }
    var values = [Double](repeating: 0, count: data.count / 8)
    data.withUnsafeBytes { raw in
      for i in values.indices {
        values[i] = Double(
          bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
      }
    }
    return Tensor(dtype: dtype, shape: shape, storage: values)
  }
}

/// The worker side: serves requests on stdin/stdout until EOF. Runs in `dlsmith worker`.
///
/// Its process group and its death with the campaign come from the `Supervisor` that started it.
/// SIGPIPE is ignored: a vanished parent shows up as a failed write, and the worker exits.
public enum WorkerServer {
  public static func serve(_ backend: any Backend) -> Never {
    signal(SIGPIPE, SIG_IGN)
    while let frame = Frame.read(from: 0) {
      let reply: WorkerMessage
      if let request = try? JSONDecoder().decode(WorkerRequest.self, from: frame) {
        reply = handle(request, backend)
      } else {
        reply = WorkerMessage(event: "result", stage: "compile", error: "worker: malformed request frame")
      }
      if !Frame.write(Frame.encode(json: reply), to: 1) { exit(0) }
    }
    exit(0)
  }

  static func handle(_ request: WorkerRequest, _ backend: any Backend) -> WorkerMessage {
    let graph: Graph
    do {
      graph = try Graph(decoding: request.model)
    } catch {
      return WorkerMessage(event: "result", stage: "compile", error: "worker: cannot decode model: \(error)")
    }
    let inputs = request.inputs.compactMap(\.tensor)
    guard inputs.count == request.inputs.count else {
      return WorkerMessage(event: "result", stage: "execute", error: "worker: malformed input tensor")
    }
    do {
      let outputs: [Tensor]
      if let staged = backend as? any StagedBackend {
        let compiled = try staged.compile(graph)
        _ = Frame.write(Frame.encode(json: WorkerMessage(event: "compiled")), to: 1)
        outputs = try staged.execute(compiled, inputs: inputs)
        var reply = WorkerMessage(event: "result", outputs: outputs.map(EncodedTensor.init))
        if request.rewrites == true { reply.rewritten = PatternFiring.rewritten(graph, compiled) }
        return reply
      } else {
        outputs = try backend.run(graph, inputs: inputs)
      }
      return WorkerMessage(event: "result", outputs: outputs.map(EncodedTensor.init))
    } catch {
      if error.isUnsupported { return WorkerMessage(event: "result", unsupported: error.message) }
      return WorkerMessage(event: "result", stage: error.stage.rawValue, error: error.message)
    }
  }
}

/// A backend whose compile and execute stages are separate, so a worker can report which stage
/// failed or hung.
public protocol StagedBackend: Backend {
  func compile(_ graph: Graph) throws(BackendError) -> Graph
  func execute(_ compiled: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor]
}

extension FastBackend: StagedBackend {
  public func execute(_ compiled: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    try FastBackend.execute(compiled, inputs: inputs).outputs
  }
}
