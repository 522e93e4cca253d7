/// Finds frames a device lost without saying so, from where its clock stands.
///
/// Where the device's clock stands is the frames read plus the frames it holds
/// (`snd_pcm_avail`); `drift` is what the monotonic clock says should have arrived by now
/// minus that (and minus losses already logged). Its low envelope, the baseline, may rise
/// only as fast as two clocks can disagree (crystal tolerance plus NTP slew,
/// ``clockTolerance``). Drift more than two periods above it is a suspected loss: the
/// capture loop holds back the blocks read from then on until the excess either falls
/// back (a device that delivers in bursts, a late reading) or stays up for
/// ``confirmSeconds``; then the smallest excess seen is the loss.
///
/// Where it goes: after every frame the device had at the last reading that was on time
/// (frames read plus frames waiting then). A reader that stalls comes back to find those
/// still waiting, reads them first and only then reaches the hole; the loss goes after
/// them, not at the first block read late. What arrived between that reading and the
/// stall no reading shows (less than a period when the reader keeps up), so the silence
/// lands at the hole or up to that much before it.
///
/// A reading preempted between its clock and `waiting` (not `settled`) overstates what
/// the device holds, so understates the drift: it may start a suspicion (the shortfall
/// is at least that), never end one or move the baseline.
///
/// A value type fed with (time, frames read, frames waiting): no clock or device of its
/// own, so it runs on the capture thread without allocating and is tested with a
/// synthetic clock.
struct LossDetector {
    /// How long drift must stay above its allowance before it counts as a loss: longer
    /// than a bursty device (a sound server's plugin) takes between deliveries.
    static let confirmSeconds = 0.25

    /// How far a device's clock and the monotonic clock may drift apart, as a fraction of
    /// the rate: 100 ppm for the crystal, with room for a slewing system clock.
    static let clockTolerance = 0.001

    /// What to do with the blocks held since a loss was suspected.
    enum Decision: Equatable {
        /// Nothing suspected: publish as usual.
        case none
        /// Still suspected: keep holding.
        case hold
        /// It went away: publish the held blocks as they are.
        case release
        /// Confirmed: `frames` were lost, about `after` frames into the held blocks.
        case lost(frames: Int, after: Int)
    }

    private let rate: Double
    private let start: Double
    private let allowance: Double
    /// Drift above the baseline that makes a suspicion: two periods.
    let threshold: Double
    private var received = 0.0
    private var accounted = 0.0
    private var baseline = Double.nan
    private var lastJudged: Double
    private var pendingXrun = false
    /// A shortfall past the threshold, while its blocks are held.
    private struct Suspicion {
        var since: Double
        /// The excess that started it, and the smallest a settled reading showed since
        /// (infinity until one has).
        var first: Double
        var least: Double
        /// Frames of the held blocks the device already held at the last reading on time.
        var after: Int
        /// The loss: the smallest excess a settled reading showed, or, with none, the first.
        var frames: Int { Int((least.isFinite ? least : first).rounded()) }
    }
    private var suspicion: Suspicion?
    /// Where the device's clock stood (frames read plus waiting) at the last reading on
    /// time, and at the latest reading.
    private var lastOnTime = 0
    private var latest = 0
    /// The last reading's drift and allowance, for ``decide(at:mustDecide:)``.
    private var drift = 0.0
    private var allowed = 0.0
    /// A source far ahead of the clock has no clock behind it (ALSA's `file` plugin).
    private(set) var unpaced = false

    init(rate: Int, periodFrames: Int, start: Double) {
        self.rate = Double(rate)
        self.start = start
        lastJudged = start
        allowance = Self.clockTolerance * Double(rate)
        threshold = Double(2 * periodFrames)
    }

    /// True while blocks are being held.
    var suspected: Bool { suspicion != nil }

    /// The device reported an overrun or a suspend: the next reading measures it.
    mutating func xrunReported() {
        pendingXrun = true
    }

    /// The device said something (an error): a suspicion is dropped, and true when held
    /// blocks must go out as they are.
    mutating func deviceSpoke() -> Bool {
        defer { suspicion = nil }
        return suspicion != nil
    }

    /// A reading: `frames` just read at `time`, with `waiting` still in the device.
    /// `settled`: the time and `waiting` were read together (not preempted in between).
    /// Returns the frames an overrun reported just before cost, once it is measured.
    mutating func reading(frames: Int, at time: Double, waiting: Int, settled: Bool) -> Int? {
        received += Double(frames)
        latest = Int(received) + waiting
        drift = (time - start) * rate - received - Double(waiting) - accounted
        if baseline.isNaN { baseline = drift }
        allowed = baseline + allowance * (time - lastJudged)
        if pendingXrun {
            // The device reported the loss; the clock says how much it was.
            let lost = max(0, Int((drift - allowed).rounded()))
            pendingXrun = false
            accounted += Double(lost)
            baseline = min(allowed, drift - Double(lost))
            lastJudged = time
            lastOnTime = latest
            return lost
        }
        guard !unpaced else { return nil }
        if let s = suspicion {
            if settled { suspicion!.least = min(s.least, drift - allowed) }
        } else if drift - allowed > threshold {
            // This reading's block is the first held; what the device had reached when last
            // on time comes before the hole.
            suspicion = Suspicion(
                since: time,
                first: drift - allowed,
                least: settled ? drift - allowed : .infinity,
                after: max(0, lastOnTime - (Int(received) - frames))
            )
        } else if settled {
            baseline = min(allowed, drift)
            lastJudged = time
            lastOnTime = latest
            if drift < -(threshold + rate / 2) { unpaced = true }
        }
        return nil
    }

    /// After a reading's block is filled: what happens to the held blocks. `mustDecide`
    /// when no more can be held (the rings are full).
    mutating func decide(at time: Double, mustDecide: Bool) -> Decision {
        guard let s = suspicion else { return .none }
        if s.least <= threshold {
            suspicion = nil
            baseline = min(allowed, drift)
            lastJudged = time
            lastOnTime = latest
            return .release
        }
        guard time - s.since >= Self.confirmSeconds || mustDecide else { return .hold }
        let lost = s.frames
        suspicion = nil
        accounted += Double(lost)
        baseline = allowed
        lastJudged = time
        lastOnTime = latest
        return .lost(frames: lost, after: s.after)
    }

    /// At the end of the recording, a loss still unconfirmed: it counts if it never went
    /// away and the take was stopped; not when the device went quiet or away (its frames
    /// stopped, none went missing in between: jackd stopped delivers late, then nothing).
    func lossAtEnd(deviceGone: Bool) -> (frames: Int, after: Int) {
        guard !deviceGone, let s = suspicion, s.least > threshold else { return (0, 0) }
        return (s.frames, s.after)
    }
}
