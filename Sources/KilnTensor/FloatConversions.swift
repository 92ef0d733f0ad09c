// Bit-exact conversions between Float and the 16- and 8-bit float formats, written with
// integer operations so they behave the same on every platform.

/// bfloat16 is the top half of an IEEE float32.
@inline(__always)
public func floatFromBFloat16Bits(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Rounds to nearest even, as PyTorch does; NaN stays NaN.
@inline(__always)
public func bfloat16Bits(from value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
    let roundingBias = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
}

/// IEEE binary16 → float32, including subnormals, infinities and NaN.
@inline(__always)
public func floatFromHalfBits(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits) & 0x3FF
    if exponent == 0 {
        // zero or subnormal: mantissa × 2^-24
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// float32 → IEEE binary16, rounding to nearest even.
public func halfBits(from value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    if value.isNaN { return sign | 0x7E00 }
    let magnitude = abs(value)
    if magnitude >= 65520 { return sign | 0x7C00 }  // rounds to infinity
    if magnitude < 0x1p-14 {
        // subnormal range: round magnitude / 2^-24 to an integer, ties to even
        let scaled = (magnitude * 0x1p24).rounded(.toNearestOrEven)
        return sign | UInt16(scaled)
    }
    let exponent = Int((bits >> 23) & 0xFF) - 127 + 15
    var mantissa = bits & 0x7F_FFFF
    var half = UInt32(exponent) << 10 | (mantissa >> 13)
    mantissa &= 0x1FFF
    if mantissa > 0x1000 || (mantissa == 0x1000 && half & 1 == 1) { half += 1 }
    return sign | UInt16(half)
}

/// float8 e4m3fn (the "fn" variant: no infinities, 0x7F/0xFF are NaN) → float32.
@inline(__always)
public func floatFromFloat8E4M3Bits(_ bits: UInt8) -> Float {
    let negative = bits & 0x80 != 0
    let exponent = Int((bits >> 3) & 0xF)
    let mantissa = Float(bits & 0x7)
    let magnitude: Float
    if exponent == 0xF && bits & 0x7 == 0x7 {
        magnitude = .nan
    } else if exponent == 0 {
        magnitude = mantissa / 8 * 0x1p-6
    } else {
        magnitude = (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }
    return negative ? -magnitude : magnitude
}
