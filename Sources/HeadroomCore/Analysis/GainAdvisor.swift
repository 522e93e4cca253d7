/// Why a channel gets the gain proposal it gets (SPEC: calibration `reason`).
public enum GainReason: String, Sendable, Equatable {
    /// At least one clip event: lower the gain by at least `-(target_peak)`.
    case clipped
    /// Loudest true peak above `-margin` dBTP, but no clip.
    case hot
    /// Loudest true peak inside `[target_peak - tolerance, -margin]`.
    case ok
    /// Loudest true peak below the band but above the signal floor.
    case quiet
    /// Loudest true peak below the signal floor: nothing plugged in, or a muted preamp.
    case noSignal = "no_signal"
}

/// A proposal to change a channel's input gain, in dB to add (`nil`: no signal).
public struct GainProposal: Sendable, Equatable {
    public var reason: GainReason
    /// dB to add to the input gain; `nil` for ``GainReason/noSignal``.
    public var changeDB: Double?

    public init(reason: GainReason, changeDB: Double?) {
        self.reason = reason
        self.changeDB = changeDB
    }
}

/// SPEC's gain proposal rule.
public enum GainAdvisor {
    /// Proposals are rounded to this step, dB.
    public static let stepDB = 0.5

    /// The proposal for a channel whose loudest true peak is `truePeakDBTP` (`nil`: silence).
    ///
    /// A channel that clipped gets at most `target_peak - estimated_peak`, where the
    /// unclipped peak is estimated as `max(true_peak, 0 dBFS)`: the real peak is unknown
    /// and at least full scale, so the figure is rounded down (more attenuation), never up.
    public static func propose(truePeakDBTP: Double?, clipped: Bool, settings: AnalysisSettings) -> GainProposal {
        guard let peak = truePeakDBTP, peak >= settings.signalFloorDBFS else {
            return GainProposal(reason: .noSignal, changeDB: nil)
        }
        if clipped {
            let estimated = max(peak, 0)
            return GainProposal(
                reason: .clipped,
                changeDB: Decibels.floor(settings.targetPeakDBTP - estimated, step: stepDB)
            )
        }
        if peak > -settings.marginDB {
            return GainProposal(reason: .hot, changeDB: rounded(settings.targetPeakDBTP - peak))
        }
        if peak < settings.bandLowDBTP {
            return GainProposal(reason: .quiet, changeDB: rounded(settings.targetPeakDBTP - peak))
        }
        return GainProposal(reason: .ok, changeDB: 0)
    }

    private static func rounded(_ value: Double) -> Double {
        let r = Decibels.round(value, step: stepDB)
        return r == 0 ? 0 : r  // never "-0"
    }
}
