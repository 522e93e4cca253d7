import CALSA
import Foundation

/// A card's capture controls (ALSA simple mixer), with their dB ranges, so a gain
/// proposal can be given, and applied, in the control's own terms.
public final class ALSAMixer {
    /// One capture volume control.
    public struct Control: Sendable, Equatable {
        public var name: String
        public var minValue: Int
        public var maxValue: Int
        /// dB at the minimum and maximum value (nil: the control has no dB information).
        public var minDB: Double?
        public var maxDB: Double?
        public var value: Int
        public var valueDB: Double?

        public init(
            name: String,
            minValue: Int,
            maxValue: Int,
            minDB: Double?,
            maxDB: Double?,
            value: Int,
            valueDB: Double?
        ) {
            self.name = name
            self.minValue = minValue
            self.maxValue = maxValue
            self.minDB = minDB
            self.maxDB = maxDB
            self.value = value
            self.valueDB = valueDB
        }
    }

    public let card: String
    private var mixer: OpaquePointer?

    /// Opens the mixer of the card behind `device` (`hw:CARD=USB,DEV=0` -> `hw:CARD=USB`).
    /// Returns nil when the device has no card (a plugin) or no mixer.
    public init?(device: String) {
        ALSACapture.silenceLibraryErrors()
        guard let card = Self.cardName(device) else { return nil }
        self.card = card
        var m: OpaquePointer?
        guard snd_mixer_open(&m, 0) >= 0, let m else { return nil }
        guard snd_mixer_attach(m, card) >= 0, snd_mixer_selem_register(m, nil, nil) >= 0, snd_mixer_load(m) >= 0 else {
            snd_mixer_close(m)
            return nil
        }
        mixer = m
    }

    deinit { if let mixer { snd_mixer_close(mixer) } }

    /// `hw:CARD=X,DEV=0`, `plughw:1`, `hw:1,0` -> `hw:X` / `hw:1`; nil for plugins.
    public static func cardName(_ device: String) -> String? {
        let lower = device.lowercased()
        guard lower.hasPrefix("hw:") || lower.hasPrefix("plughw:") else { return nil }
        let spec = device[device.index(after: device.firstIndex(of: ":")!)...]
        let first = spec.split(separator: ",").first.map(String.init) ?? ""
        let card = first.hasPrefix("CARD=") ? String(first.dropFirst(5)) : first
        return card.isEmpty ? nil : "hw:\(card)"
    }

    /// The capture volume controls, in the mixer's order.
    public func captureControls() -> [Control] {
        guard let mixer else { return [] }
        var out: [Control] = []
        var elem = snd_mixer_first_elem(mixer)
        while let e = elem {
            defer { elem = snd_mixer_elem_next(e) }
            guard snd_mixer_selem_is_active(e) != 0, snd_mixer_selem_has_capture_volume(e) != 0 else { continue }
            var lo = 0
            var hi = 0
            snd_mixer_selem_get_capture_volume_range(e, &lo, &hi)
            var loDB = 0
            var hiDB = 0
            let hasDB = snd_mixer_selem_get_capture_dB_range(e, &loDB, &hiDB) == 0 && hiDB > loDB
            var value = 0
            snd_mixer_selem_get_capture_volume(e, SND_MIXER_SCHN_FRONT_LEFT, &value)
            var valueDB = 0
            let hasValueDB = hasDB && snd_mixer_selem_get_capture_dB(e, SND_MIXER_SCHN_FRONT_LEFT, &valueDB) == 0
            out.append(
                Control(
                    name: String(cString: snd_mixer_selem_get_name(e)),
                    minValue: lo,
                    maxValue: hi,
                    minDB: hasDB ? Double(loDB) / 100 : nil,
                    maxDB: hasDB ? Double(hiDB) / 100 : nil,
                    value: value,
                    valueDB: hasValueDB ? Double(valueDB) / 100 : nil
                )
            )
        }
        return out
    }

    /// Sets a control to `value` on all its channels.
    public func set(_ control: Control, value: Int) throws(HeadroomError) {
        guard let mixer else { throw HeadroomError(.unavailable, "\(card): the mixer is not open") }
        var elem = snd_mixer_first_elem(mixer)
        while let e = elem {
            if String(cString: snd_mixer_selem_get_name(e)) == control.name, snd_mixer_selem_has_capture_volume(e) != 0
            {
                let r = snd_mixer_selem_set_capture_volume_all(e, value)
                if r < 0 {
                    throw HeadroomError(.unavailable, "\(card): cannot set \(control.name): \(ALSAError(rawValue: r))")
                }
                return
            }
            elem = snd_mixer_elem_next(e)
        }
        throw HeadroomError(.unavailable, "\(card) has no capture control \"\(control.name)\"")
    }
}

/// The arithmetic of turning a dB proposal into a control value, pure so it is tested
/// without hardware.
public enum GainStep {
    /// The value to set a control to for a change of `changeDB`, never more than
    /// `maxStepDB` in one go, within the control's range. The control's dB scale is taken
    /// as linear in its values (ALSA's TLV dB-scale controls are; others are reported,
    /// not guessed at). Returns the value and the dB it lands on.
    public static func target(_ c: ALSAMixer.Control, changeDB: Double, maxStepDB: Double) -> (value: Int, db: Double)?
    {
        guard let lo = c.minDB, let hi = c.maxDB, c.maxValue > c.minValue, hi > lo else { return nil }
        let perStep = (hi - lo) / Double(c.maxValue - c.minValue)
        let current = c.valueDB ?? lo + Double(c.value - c.minValue) * perStep
        let change = max(-maxStepDB, min(maxStepDB, changeDB))
        let wanted = max(lo, min(hi, current + change))
        // Round towards the current setting, so one step never goes past `maxStepDB`.
        let steps = (wanted - lo) / perStep
        var value = c.minValue + Int(change < 0 ? (steps - 1e-9).rounded(.up) : (steps + 1e-9).rounded(.down))
        value = max(c.minValue, min(c.maxValue, value))
        return (value, lo + Double(value - c.minValue) * perStep)
    }
}
