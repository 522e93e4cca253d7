import Foundation

/// Conversions between linear amplitude (1.0 = full scale) and decibels.
public enum Decibels {
    /// `20*log10(amplitude)`, or `nil` for silence (amplitude 0).
    public static func fromAmplitude(_ amplitude: Double) -> Double? {
        amplitude > 0 ? 20 * log10(amplitude) : nil
    }

    /// Linear amplitude for a level in dB: `10^(dB/20)`.
    public static func toAmplitude(_ decibels: Double) -> Double {
        pow(10, decibels / 20)
    }

    /// Rounds to the nearest multiple of `step` (half away from zero), e.g. 0.5 or 0.1 dB,
    /// through the steps per dB (so 8.7 is 87 / 10, not 87 * 0.1 = 8.700000000000001), and
    /// never to -0 (`-0.0` in /metrics, "-0" in a proposal).
    public static func round(_ value: Double, step: Double) -> Double {
        let perUnit = 1 / step
        let r = (value * perUnit).rounded(.toNearestOrAwayFromZero) / perUnit
        return r == 0 ? 0 : r
    }

    /// Rounds down (towards more attenuation) to a multiple of `step`.
    public static func floor(_ value: Double, step: Double) -> Double {
        // A tiny epsilon keeps -6.0000000001 (float noise) at -6.0.
        ((value + 1e-9) / step).rounded(.down) * step
    }

    /// A level as people read it, to `decimals` places: "-3.1", and "0.0" for what rounds to
    /// zero from below (a flat top at -0.01 dBFS is at 0.0 dBFS, not "-0.0").
    public static func text(_ value: Double, decimals: Int) -> String {
        let text = String(format: "%.\(decimals)f", value)
        let negativeZero = text.hasPrefix("-") && text.dropFirst().allSatisfy { $0 == "0" || $0 == "." }
        return negativeZero ? String(text.dropFirst()) : text
    }

    /// ``text(_:decimals:)`` to one place, as most levels are shown.
    public static func text(_ value: Double) -> String { text(value, decimals: 1) }
}
