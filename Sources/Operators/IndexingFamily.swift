extension OperatorSpec {
  static let indexingFamily: [OperatorSpec] = []
}
