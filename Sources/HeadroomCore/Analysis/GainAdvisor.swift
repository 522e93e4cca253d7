/// Why a channel gets the gain proposal it gets (SPEC: calibration `reason`).
public enum GainReason: String, Sendable, Equatable {
    /// At least one clip event: lower the gain by at least `-(target_peak)`.
    case clipped
    /// Flat tops below the clip level and no clip: lower so the estimated peak before the
    /// ceiling lands on `target_peak`, and at least as far as the tops went over.
    case flat
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
    /// For `clipped` and `flat`: the estimated overshoot above the ceiling, dB (nil: not estimated).
    public var overDB: Double?
    /// `overDB` is only a lower bound.
    public var overBound: Bool
    /// For `flat`: the ceiling's level, dBFS.
    public var flatLevelDBFS: Double?
    /// For `flat`: the gain to add after the stage that clips once `changeDB` has stopped it
    /// clipping, to bring the peak up to the target (nil: none needed).
    public var makeUpDB: Double?

    public init(
        reason: GainReason,
        changeDB: Double?,
        overDB: Double? = nil,
        overBound: Bool = false,
        flatLevelDBFS: Double? = nil,
        makeUpDB: Double? = nil
    ) {
        self.reason = reason
        self.changeDB = changeDB
        self.overDB = overDB
        self.overBound = overBound
        self.flatLevelDBFS = flatLevelDBFS
        self.makeUpDB = makeUpDB
    }
}

/// What the analyzer knows about how far a channel went over (inputs to the proposal).
public struct Overs: Sendable, Equatable {
    /// Clip events' largest overshoot above the clip level, dB, and whether it is a bound.
    public var clipOverDB: Double?
    public var clipOverBound = false
    /// Flat events: the ceiling with the highest estimated peak (its level in dBFS and the
    /// overshoot above it, nil when not estimated).
    public var flatLevelDBFS: Double?
    public var flatOverDB: Double?

    public init(
        clipOverDB: Double? = nil,
        clipOverBound: Bool = false,
        flatLevelDBFS: Double? = nil,
        flatOverDB: Double? = nil
    ) {
        self.clipOverDB = clipOverDB
        self.clipOverBound = clipOverBound
        self.flatLevelDBFS = flatLevelDBFS
        self.flatOverDB = flatOverDB
    }

    /// A clipped channel's overshoot above the clip level, as its proposal and its summary
    /// take it: its clip events' figure, or, where its flat tops (`flat`) are estimated to have
    /// gone higher over the clip level, theirs, an estimate. Beside clip runs, flat tops at the
    /// clip level are the same overload where the top reached the maximum code in runs too
    /// short to count: a resampled take, or a converter's filter rippling across the top of an
    /// overload (a drum kit driven 10 dB past full scale: its runs read 0.0 dB, a bound, and
    /// its flat tops 7.3 dB).
    public func clipped(flat: Bool, clipLevelDBFS: Double) -> (db: Double?, bound: Bool) {
        var (over, bound) = (clipOverDB, clipOverDB != nil && clipOverBound)
        if flat, let level = flatLevelDBFS, let flatOver = flatOverDB {
            let above = level + flatOver - clipLevelDBFS
            if above > (over ?? 0) { (over, bound) = (above, false) }
        }
        return (over, bound)
    }
}

/// SPEC's gain proposal rule.
public enum GainAdvisor {
    /// Proposals are rounded to this step, dB.
    public static let stepDB = 0.5
    /// The overshoot assumed above a flat ceiling that could not be estimated (SPEC).
    public static let unestimatedFlatOverDB = 6.0

    /// The proposal for a channel whose loudest true peak is `truePeakDBTP` (`nil`: silence).
    ///
    /// A channel that clipped gets at most `target_peak - estimated_peak`, where the
    /// unclipped peak is estimated as `max(true_peak, 0 dBFS)`: the real peak is unknown
    /// and at least full scale, so the figure is rounded down (more attenuation), never up.
    ///
    /// With an overshoot estimate (`overs.clipOverDB`) the unclipped peak is taken as
    /// `clip_level + over_db`, never below that bound; where the channel's flat tops are
    /// estimated to have gone higher over the clip level, their figure is taken instead. A
    /// channel with flat tops and no clip is proposed `target_peak - (level + over_db)`, with
    /// 6 dB over when not estimated (SPEC's `flat` reason), and never less than `-over_db`
    /// (rounded down): where the ceiling sits below the target, SPEC's figure lowers the stage
    /// that clips by less than it went over, or raises it (tops flat at -11 dBFS, 5.7 dB over:
    /// -0.5 dB; 1 dB over: +4.0 dB), and the take goes on clipping. Lowered that far, the
    /// channel peaks under the target; the gain to make up belongs after the stage that clips.
    /// Neither reason ever proposes less attenuation than its true peak asks.
    /// An estimate ("about") is rounded to the nearest step, as SPEC says; a bound ("at
    /// least") or the assumed 6 dB is rounded down, since the peak may be higher.
    public static func propose(
        truePeakDBTP: Double?,
        clipped: Bool,
        flat: Bool = false,
        overs: Overs = Overs(),
        settings: AnalysisSettings
    ) -> GainProposal {
        guard let peak = truePeakDBTP, peak >= settings.signalFloorDBFS else {
            return GainProposal(reason: .noSignal, changeDB: nil)
        }
        if clipped {
            var change = Decibels.floor(settings.targetPeakDBTP - max(peak, 0), step: stepDB)
            let (over, bound) = overs.clipped(flat: flat, clipLevelDBFS: settings.clipLevelDBFS)
            if let over {
                let exact = settings.targetPeakDBTP - (settings.clipLevelDBFS + over)
                change = min(change, step(exact, estimated: !bound))
            }
            return GainProposal(
                reason: .clipped,
                changeDB: change,
                overDB: over.map { Decibels.round($0, step: 0.1) },
                overBound: bound
            )
        }
        if flat, let level = overs.flatLevelDBFS {
            let over = overs.flatOverDB ?? unestimatedFlatOverDB
            let exact = settings.targetPeakDBTP - (level + over)
            let change = min(
                step(exact, estimated: overs.flatOverDB != nil),
                Decibels.round(settings.targetPeakDBTP - peak, step: stepDB),
                Decibels.floor(-over, step: stepDB)
            )
            // Lowered by `change`, the peak before the ceiling lands under the target by this.
            let makeUp = Decibels.floor(settings.targetPeakDBTP - (level + over + change), step: stepDB)
            return GainProposal(
                reason: .flat,
                changeDB: change,
                overDB: overs.flatOverDB.map { Decibels.round($0, step: 0.1) },
                flatLevelDBFS: Decibels.round(level, step: 0.1),
                makeUpDB: makeUp > 0 ? makeUp : nil
            )
        }
        if peak > -settings.marginDB {
            return GainProposal(reason: .hot, changeDB: Decibels.round(settings.targetPeakDBTP - peak, step: stepDB))
        }
        if peak < settings.bandLowDBTP {
            return GainProposal(reason: .quiet, changeDB: Decibels.round(settings.targetPeakDBTP - peak, step: stepDB))
        }
        return GainProposal(reason: .ok, changeDB: 0)
    }

    /// What flat tops at `levelDBFS` most likely are, for the warning and the advice: under
    /// full scale (or at no known level), a stage before the converter that clipped; at full
    /// scale (flat events there have no clip run beside them), a clipped signal resampled on
    /// its way in.
    public static func flatCause(levelDBFS: Double?) -> String {
        (levelDBFS ?? -.infinity) >= -0.05 ? "clipped, then resampled?" : "clipping before the converter?"
    }

    /// `exact` in steps: an estimate to the nearest, a bound or an assumption down (towards
    /// more attenuation), since the peak may be higher.
    private static func step(_ exact: Double, estimated: Bool) -> Double {
        estimated ? Decibels.round(exact, step: stepDB) : Decibels.floor(exact, step: stepDB)
    }
}
