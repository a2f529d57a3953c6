extension OperatorSpec {
  static let linearFamily: [OperatorSpec] = []
}
