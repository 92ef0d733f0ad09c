// Everything that can go wrong turning a model folder into a bound model.

import KilnCheckpoint
import KilnTensor

public enum ModelLoadError: Error, CustomStringConvertible, Equatable {
    case config(ModelConfigError)
    case checkpoint(SafetensorsError)
    case wrongShape(file: String, tensor: String, expected: [Int], actual: [Int])
    case unsupportedDType(file: String, tensor: String, dtype: DType)

    public var description: String {
        switch self {
        case .config(let error): error.description
        case .checkpoint(let error): error.description
        case .wrongShape(let file, let tensor, let expected, let actual):
            "\(file): tensor '\(tensor)' has shape \(actual) but the model's config needs \(expected); the weights do not belong to this config.json"
        case .unsupportedDType(let file, let tensor, let dtype):
            "\(file): tensor '\(tensor)' is \(dtype), which cannot be used as a floating-point weight; convert the checkpoint to F32, F16 or BF16"
        }
    }
}
