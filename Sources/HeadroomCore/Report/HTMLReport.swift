import Foundation

/// One self-contained HTML page for a set of reviewed takes: per take a summary table
/// and, per channel, an SVG level overview (peak envelope from the audio, -60..0 dBFS)
/// with the target band, the margin line, clip events as red marks and hot events as
/// amber ones. No scripts, no network.
public enum HTMLReport {
    static let width = 900.0
    static let height = 90.0
    static let floorDB = -60.0

    public static func render(_ reviews: [TakeReview], settings: AnalysisSettings, generated: Date = Date()) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>headroom review</title>
            <meta name="viewport" content="width=device-width,initial-scale=1">
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
            h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 6px}
            .meta{color:#666} .bad{color:#b00020;font-weight:600} .ok{color:#2e7d32} .warn{color:#e65100;font-weight:600}
            table{border-collapse:collapse;margin:8px 0} td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
            td:nth-child(2),th:nth-child(2){text-align:left} tr.clipped td{color:#b00020;font-weight:600}
            .wide{overflow-x:auto}
            .lane{margin:4px 0;display:flex;gap:8px;align-items:flex-start} .lane span{flex:0 0 110px;color:#444}
            svg{background:#fff;border:1px solid #ccc;flex:0 1 auto;min-width:0;max-width:100%;height:auto}
            .legend{color:#666;font-size:12px} .note{color:#8a4b00;font-size:13px;margin:6px 0;overflow-wrap:anywhere}
            @media (max-width:600px){body{margin:12px} .lane{display:block} .lane span{display:block} svg{width:100%}
            table.channels,table.channels tbody{display:block} table.channels tr:first-child{display:none}
            table.channels tr{display:flex;flex-wrap:wrap;column-gap:14px;padding:6px 0;border-bottom:1px solid #ddd}
            table.channels td{border:0;padding:1px 0;text-align:left} table.channels td:nth-child(2){flex:1 0 70%}
            table.channels td[data-l]::before{content:attr(data-l) " ";color:#666;font-weight:400}
            table.channels td[data-u]::after{content:" " attr(data-u)}}
            </style></head><body>
            <h1>headroom review</h1>
            <p class="meta">\(reviews.count) take\(reviews.count == 1 ? "" : "s"), generated \(DisplayText.markup(ClipLog.timestamp(generated))).
            Target band \(Decibels.text(settings.bandLowDBTP)) to \(Decibels.text(-settings.marginDB)) dBTP (green); margin line at \(Decibels.text(-settings.marginDB)) dBTP;
            <span style="color:#d50000">clip events</span>, <span style="color:#aa00ff">flat tops</span> (clipping below full scale) and <span style="color:#ff9800">hot events</span> marked.</p>

            """
        let names = TakeReview.shownNames(reviews.map(\.file))
        for (index, r) in reviews.enumerated() { html += take(r, name: names[index], index: index, settings: settings) }
        html += "</body></html>\n"
        return html
    }

    static func take(_ r: TakeReview, name: String, index: Int, settings: AnalysisSettings) -> String {
        // A take that only ran hot (true peaks in the margin, no clip) is not called clean.
        let status =
            if r.hasProblems {
                "<span class=\"bad\">needs a look</span>"
            } else if r.hotEvents > 0 {
                "<span class=\"warn\">ran hot</span>"
            } else {
                "<span class=\"ok\">\(r.logState == .recording ? "clean so far (recording)" : "clean")</span>"
            }
        var out = "<section class=\"take\" id=\"take-\(index)\" data-file=\"\(DisplayText.markup(name))\">\n"
        out +=
            "<h2>\(DisplayText.markup(name)) — \(status)</h2>\n<p class=\"meta\">\(EventText.timecode(seconds: r.seconds))"
        if let s = r.started { out += ", started \(DisplayText.markup(EventText.localTime(s, zone: true)))" }
        out +=
            ", log: \(DisplayText.markup(r.logState.rawValue)); xruns \(r.xruns), gaps \(r.gaps), dropped frames \(r.droppedFrames)"
        if let e = r.ending { out += "; <span class=\"bad\">\(DisplayText.markup(e))</span>" }
        out += "</p>\n"
        // What review says about the take on stderr (a log cut off, audio not counted, a take
        // renamed): on the page too, which is read where no terminal is; under the take's
        // heading, without its path.
        for note in r.notes where !note.isEmpty {
            let text = note.hasPrefix(r.file + ": ") ? String(note.dropFirst(r.file.count + 2)) : note
            out += "<p class=\"note\">\(DisplayText.markup(DisplayText.escaped(text)))</p>\n"
        }
        out +=
            "<div class=\"wide\"><table class=\"channels\"><tr><th>ch</th><th>name</th><th>true peak dBTP</th><th>headroom dB</th><th>clips</th><th>over dB</th><th>flat tops</th><th>hot</th><th>LUFS</th><th>LRA LU</th></tr>\n"
        for c in r.channels {
            out +=
                "<tr\(c.clipEvents > 0 || c.flatEvents > 0 ? " class=\"clipped\"" : "")><td>\(c.channel)</td><td>\(DisplayText.markup(c.name))</td>"
            // A log with no summary gives only its events' true peaks: none is unknown, not silence.
            let truePeak = c.truePeakDBTP == nil && !r.logState.isWhole ? "-" : SummaryTable.db(c.truePeakDBTP)
            out += cell(truePeak, "true peak", "dBTP")
            // To the true peak's 0.01 dB, as the text table gives it: a true peak of 0.04 dBTP is
            // -0.04 dB of headroom, not "0.0".
            out += cell(c.truePeakDBTP.map { SummaryTable.db(-$0) } ?? "-", "headroom", "dB")
            let over = c.overDB.map { (c.overBound ? "&ge;" : "") + Decibels.text($0) } ?? "-"
            let flat = c.flatEvents > 0 ? "\(c.flatEvents) at \(c.flatLevelDBFS.map(Decibels.text) ?? "?") dBFS" : "0"
            out += cell("\(c.clipEvents)", "clips") + cell(over, "over", "dB") + cell(flat, "flat tops")
            out += cell("\(c.hotEvents)", "hot")
            out += cell(c.loudness?.integratedLUFS.map(Decibels.text) ?? "-", "", "LUFS")
            out += cell(c.loudness?.rangeLU.map(Decibels.text) ?? "-", "LRA", "LU") + "</tr>\n"
        }
        out += "</table></div>\n"
        let envelopes = envelope(path: r.file, columns: Int(width))
        let totalFrames = max(1, Int((r.seconds * Double(r.rate)).rounded()))
        for c in r.channels {
            let peaks = envelopes.map { c.channel - 1 < $0.count ? $0[c.channel - 1] : [] } ?? []
            let label =
                ClipLog.isNumberOnly(c.name, channel: c.channel - 1)
                ? "\(c.channel)" : "\(c.channel) \(DisplayText.markup(c.name))"
            out += "<div class=\"lane\"><span>\(label)</span>"
            out += lane(
                peaks: peaks,
                channel: c.channel,
                events: r.events,
                names: r.names,
                totalFrames: totalFrames,
                settings: settings
            )
            out += "</div>\n"
        }
        out +=
            "<p class=\"legend\">Level overview: peak per \(String(format: "%.1f", r.seconds * 1000 / width)) ms, -60 to 0 dBFS.</p>\n</section>\n"
        return out
    }

    /// A channel's figure. On a phone's width the table's rows become blocks of figures, each
    /// with its label (`data-l`) and its unit (`data-u`, left off a figure that is missing).
    static func cell(_ value: String, _ label: String, _ unit: String = "") -> String {
        let l = label.isEmpty ? "" : " data-l=\"\(label)\""
        let u = unit.isEmpty || value == "-" ? "" : " data-u=\"\(unit)\""
        return "<td\(l)\(u)>\(value)</td>"
    }

    static func y(_ db: Double) -> Double {
        let clamped = max(floorDB, min(0, db))
        return (height * clamped / floorDB).rounded(toPlaces: 1)
    }

    static func lane(
        peaks: [Float],
        channel: Int,
        events: [Event],
        names: [String],
        totalFrames: Int,
        settings: AnalysisSettings
    ) -> String {
        var svg =
            "<svg class=\"channel\" data-channel=\"\(channel)\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" xmlns=\"http://www.w3.org/2000/svg\">"
        let bandTop = y(-settings.marginDB)
        let bandBottom = y(settings.bandLowDBTP)
        if !peaks.isEmpty {
            var points = "0,\(Int(height))"
            for (i, p) in peaks.enumerated() {
                let db = p > 0 ? 20 * log10(Double(p)) : floorDB
                points += " \(i),\(y(db))"
            }
            points += " \(peaks.count - 1),\(Int(height))"
            svg += "<polygon class=\"envelope\" points=\"\(points)\" fill=\"#5c6bc0\" fill-opacity=\"0.8\"/>"
        }
        // The band on top of the envelope, translucent, so levels inside it stay visible.
        svg +=
            "<rect class=\"band\" x=\"0\" y=\"\(bandTop)\" width=\"\(Int(width))\" height=\"\((bandBottom - bandTop).rounded(toPlaces: 1))\" fill=\"#66bb6a\" fill-opacity=\"0.3\"/>"
        svg +=
            "<line class=\"margin\" x1=\"0\" x2=\"\(Int(width))\" y1=\"\(bandTop)\" y2=\"\(bandTop)\" stroke=\"#d50000\" stroke-dasharray=\"4 3\"/>"
        for e in events where e.channel == channel - 1 {
            let (type, start, end): (String, Int, Int)
            switch e {
            case .clip(let x): (type, start, end) = ("clip", x.startFrame, x.endFrame)
            case .flat(let x): (type, start, end) = ("flat", x.startFrame, x.endFrame)
            case .hot(let x): (type, start, end) = ("hot", x.startFrame, x.endFrame)
            default: continue
            }
            // An event past the audio's end (a killed take's header lags, a copy cut short) is
            // marked at the right edge, not drawn outside the picture.
            let x = min(width - 2, (Double(start) / Double(totalFrames) * width).rounded(toPlaces: 1))
            let w = min(width - x, max(2, (Double(end - start) / Double(totalFrames) * width).rounded(toPlaces: 1)))
            let (color, h) = type == "clip" ? ("#d50000", 14) : type == "flat" ? ("#aa00ff", 11) : ("#ff9800", 8)
            svg +=
                "<rect class=\"\(type)\" data-frame=\"\(start)\" x=\"\(x)\" y=\"0\" width=\"\(w)\" height=\"\(h)\" fill=\"\(color)\"><title>\(DisplayText.markup(EventText.describe(e, names: names)))</title></rect>"
        }
        svg += "</svg>"
        return svg
    }

    /// Peak magnitude per column per channel, from the audio file.
    static func envelope(path: String, columns: Int) -> [[Float]]? {
        guard let info = AudioFile.info(path), info.frames > 0 else { return nil }
        let channels = info.channels
        var peaks = Array(repeating: [Float](repeating: 0, count: columns), count: channels)
        var position = 0
        AudioFile.forEachFloatBlock(path) { buffer, n in
            for i in 0..<n {
                let col = min(columns - 1, (position + i) * columns / info.frames)
                for c in 0..<channels {
                    let v = abs(buffer[i * channels + c])
                    if v > peaks[c][col] { peaks[c][col] = v }
                }
            }
            position += n
        }
        return peaks
    }

}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
