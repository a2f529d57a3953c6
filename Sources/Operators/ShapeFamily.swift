extension OperatorSpec {
  static let shapeFamily: [OperatorSpec] = []
}
