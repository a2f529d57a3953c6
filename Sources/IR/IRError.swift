/// Why a graph or model file is not well formed. Messages name the value or node at fault.
public struct IRError: Error, CustomStringConvertible, Sendable, Equatable {
  public enum Kind: String, Sendable {
    case malformedFile, unsupportedFormat, undefinedValue, duplicateValue, unknownOperator
    case arity, attribute, rank, dtype, shapeRule, shapeMismatch, limits, constantData, outputs
  }

  public let kind: Kind
  public let message: String

  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { message }
}
