import Foundation
import IR
import Tensors

/// `meta.json` of an instance folder: where the instance came from and how to get it again. The one
/// definition of the file's schema (written by the campaign; read by replay, minimize, status,
/// report and export-bug). Numbers are strings, as in the files of earlier versions.
public struct InstanceMeta: Codable, Sendable {
  public var seed: String
  public var campaignSeed: String
  public var k: String
  public var shard: String
  public var backend: String
  public var worker: String
  public var kind: String
  public var stage: String
  public var message: String
  public var signature: String
  public var toolVersion: String
  public var replay: String
  public var regenerate: String
  /// Triage of this instance (absent in instances written before triage existed).
  public var triage: TriageEvidence?

  enum CodingKeys: String, CodingKey {
    case seed, k, shard, backend, worker, kind, stage, message, signature, replay, regenerate, triage
    case campaignSeed = "campaign_seed"
    case toolVersion = "tool_version"
  }
}

/// One instance folder (`Crashes/<sig16>/instances/<name>/`, or a bucket's `minimized/`): the model,
/// its input values, the reference's outputs, the target's outputs, and `meta.json`.
public struct Instance: Sendable {
  public var path: String
  public var graph: Graph
  public var inputs: [Tensor]
  public var expected: [Tensor]?
  public var actual: [Tensor]?
  public var meta: InstanceMeta?

  public struct ReadError: Error, CustomStringConvertible {
    public var description: String
  }

  /// Reads the folder; a missing `inputs.json` means inputs sampled with seed 0 (hand-made folders).
  public static func read(_ path: String) throws -> Instance {
    let graph: Graph
    do {
      graph = try Graph(contentsOf: path + "/model.dlsmith.json")
    } catch {
      throw ReadError(description: "\(error)")
    }
    let inputs = try tensors(path + "/inputs.json") ?? graph.sampleInputs(seed: 0)
    let meta = FileManager.default.contents(atPath: path + "/meta.json").flatMap {
      try? JSONDecoder().decode(InstanceMeta.self, from: $0)
    }
    return Instance(
      path: path, graph: graph, inputs: inputs, expected: try tensors(path + "/expected.json"),
      actual: try tensors(path + "/actual.json"), meta: meta)
  }

  /// The tensors of a JSON tensor file, nil if there is no such file.
  public static func tensors(_ path: String) throws -> [Tensor]? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    guard let encoded = try? JSONDecoder().decode([EncodedTensor].self, from: data) else {
      throw ReadError(description: "\(path): not a tensor list")
    }
    let decoded = encoded.compactMap(\.tensor)
    guard decoded.count == encoded.count else { throw ReadError(description: "\(path): malformed tensor") }
    return decoded
  }

  /// The bucket folder an instance folder belongs to (`.../Crashes/<sig16>`), if it is inside one.
  public static func bucket(of path: String) -> String? {
    let parent = (path as NSString).deletingLastPathComponent
    if (parent as NSString).lastPathComponent == "instances" {
      return (parent as NSString).deletingLastPathComponent
    }
    if (path as NSString).lastPathComponent == "minimized" { return parent }
    return nil
  }

  /// The folder `export-bug` and `minimize` start from: the bucket's minimized model if it has one,
  /// else its first instance.
  public static func representative(ofBucket bucket: String) -> String? {
    let fm = FileManager.default
    if fm.fileExists(atPath: bucket + "/minimized/model.dlsmith.json") { return bucket + "/minimized" }
    return ((try? fm.contentsOfDirectory(atPath: bucket + "/instances")) ?? []).sorted().first.map {
      bucket + "/instances/" + $0
    }
  }
}
