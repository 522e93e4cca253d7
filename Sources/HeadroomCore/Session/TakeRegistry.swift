import CHeadroomKernels
import Foundation
import Synchronization

/// The takes of one recording, shared by the writer and analyzer threads: both ask for
/// take `k` when they reach it and get the same names. The analyzer ends a take's log once
/// the writer has closed the take (``writerOutcome(_:)``: the frames the file holds, and
/// whether writing failed); whichever closes it second adds the cue markers (they need the
/// closed file and the final list of clip events).
///
/// A take's file and its log are created together, both with `O_EXCL | O_NOFOLLOW`: a
/// name already taken (by a person, another recorder started in the same second, or a
/// symlink) moves on to the next free name, and a take never exists without its log.
final class TakeRegistry: Sendable {
    /// One take: its audio file and its clip log.
    struct Take: Sendable {
        var index: Int
        /// Path without extension.
        var base: String
        var file: String
        var log: String
        /// Global frame (since capture started) of the take's first frame.
        var startFrame: Int
        var startDate: Date
        var writerClosed = false
        /// Why the writer failed in this take or before it (then `frames` are what the file
        /// holds, and the log says `disk`).
        var writerFailure: String?
        var analyzerClosed = false
        var markers: [CueMarkers.Marker] = []
        var frames = 0
        var complete = false
        var clipEvents = 0
        /// iXML, loudness and the rest, from the analyzer (WAV/RF64 takes; a FLAC take's
        /// loudness).
        var metadata: TakeMetadata?
        /// Why the files could not be created (then there is neither).
        var error: HeadroomError?
        /// The take file and the log as created (device and inode), so that only those files
        /// are ever removed.
        var fileIdentity: FileIdentity?
        var logIdentity: FileIdentity?
        /// Removed when finished: the disk failed before any of the take's audio was written
        /// (see ``discardUnwritten(_:)``).
        var discarded = false
    }

    private struct State {
        var namer: TakeNamer
        var takes: [Take] = []
        /// Open descriptors of each take's file and log until the writer and analyzer claim them.
        var fileFDs: [Int32] = []
        var logFDs: [Int32] = []
        /// Each take's lock (a descriptor of its own, read-only), held until it is finished.
        var lockFDs: [Int32] = []
        /// The takes' folder, held open from the first take on: where it is now.
        var folderFD: Int32 = -1
        /// Writing failed (``endCreating()``): the takes the last frames still pass through
        /// are not created.
        var ended = false
    }

    private let state: Mutex<State>
    /// When a frame of the recording was captured (``RecordingSession/date(ofFrame:)``).
    let dateOfFrame: @Sendable (Int) -> Date
    /// The disk each log holds ahead as it is created (``ClipLogFile/reserve(channels:)``).
    let logReserve: Int
    /// Whether takes get their markers and loudness (``TakeFileFormat/carriesMarkers``).
    let addsMarkers: Bool
    let fileFormat: TakeFileFormat
    /// Problems finishing takes (cues, metadata, the hook); the session shows them as warnings.
    let problems = Mutex<[String]>([])
    /// What finishing the takes a killed recorder left did (``finishLeftBehind(settings:)``),
    /// also among the problems: said again when the recording ends.
    let leftBehind = Mutex<[String]>([])
    /// The takes finished since the session last asked (``RecordingSession/finishedTakes()``),
    /// under their names now: a recorder with no meter says each as it closes.
    let finished = Mutex<[(file: String, log: String)]>([])
    /// `--on-take-closed`: a shell command run with the take and its log once both are closed.
    let hook: TakeHook?
    /// Finishing takes (loudness, cues, metadata, the hook) runs here, one take after
    /// another, off the writer and analyzer threads: measuring a long take's loudness must
    /// not hold up the next take's frames.
    private let finisher = DispatchQueue(label: "headroom-finish")
    private let finishing = DispatchGroup()
    private let writerDone = DispatchSemaphore(value: 0)

    init(
        namer: TakeNamer,
        dateOfFrame: @escaping @Sendable (Int) -> Date,
        channels: Int,
        addsMarkers: Bool,
        hook: TakeHook? = nil
    ) {
        state = Mutex(State(namer: namer))
        self.dateOfFrame = dateOfFrame
        logReserve = ClipLogFile.reserve(channels: channels)
        self.addsMarkers = addsMarkers
        self.hook = hook
        fileFormat = namer.fileFormat
    }

    /// Take `index`, named and created (file and log) when first asked for.
    func take(_ index: Int, startFrame: Int) -> Take {
        state.withLock { s in
            while s.takes.count <= index {
                let date = dateOfFrame(startFrame)
                var take = Take(
                    index: s.takes.count,
                    base: "",
                    file: "",
                    log: "",
                    startFrame: startFrame,
                    startDate: date
                )
                var fds: (file: Int32, log: Int32, lock: Int32) = (-1, -1, -1)
                if let moved = Self.movedFolder(&s) {
                    let from = s.namer.directory
                    s.namer.moved(to: moved)
                    problems.withLock {
                        $0.append("\(from) was renamed to \(moved) while recording; the next takes go there")
                    }
                }
                do throws(HeadroomError) {
                    if s.ended {
                        take.discarded = true
                        throw HeadroomError(.io, "not created: writing had failed")
                    }
                    let created = try Self.create(
                        namer: &s.namer,
                        date: date,
                        fileExtension: fileFormat.fileExtension,
                        logReserve: logReserve
                    )
                    (take.base, fds) = (created.base, (created.file, created.log, created.lock))
                    take.fileIdentity = FileIdentity(descriptor: created.file)
                    take.logIdentity = FileIdentity(descriptor: created.log)
                } catch {
                    take.error = error
                }
                take.file = take.base + "." + fileFormat.fileExtension
                take.log = take.base + ".clips.jsonl"
                s.takes.append(take)
                s.fileFDs.append(fds.file)
                s.logFDs.append(fds.log)
                s.lockFDs.append(fds.lock)
            }
            return s.takes[index]
        }
    }

    /// Writing failed and the recording is ending: no more takes are created (a file and a
    /// log, in a folder `--name` makes, only to be removed as never written).
    func endCreating() { state.withLock { $0.ended = true } }

    /// The take file's descriptor, for the writer (once; -1 when it could not be created).
    func claimFile(_ index: Int) -> Int32 {
        state.withLock { s in
            defer { s.fileFDs[index] = -1 }
            return s.fileFDs[index]
        }
    }

    /// The log's descriptor, for the analyzer (once; -1 when it could not be created).
    func claimLog(_ index: Int) -> Int32 {
        state.withLock { s in
            defer { s.logFDs[index] = -1 }
            return s.logFDs[index]
        }
    }

    deinit {
        state.withLock { s in
            for fd in s.fileFDs + s.logFDs + s.lockFDs + [s.folderFD] where fd >= 0 { close(fd) }
        }
    }

    /// Where the takes' folder is now, when it was renamed or moved within its file system
    /// since the first take (a person tidying up while a long recording runs): found through
    /// the descriptor held on it. nil while its path still names it, and when it is gone (the
    /// next take then fails to be created, as it would have).
    private static func movedFolder(_ s: inout State) -> String? {
        guard s.folderFD >= 0 else {
            s.folderFD = open(s.namer.directory.isEmpty ? "." : s.namer.directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            return nil
        }
        return renamedFolder(folder: s.folderFD, directory: s.namer.directory)
    }

    /// The held folder's path, when `--dir` (or the name it was last followed to) no longer
    /// names it.
    private static func renamedFolder(folder: Int32, directory: String) -> String? {
        let path = directory.isEmpty ? "." : directory
        guard folder >= 0, let held = FileIdentity(descriptor: folder), FileIdentity(path: path) != held,
            let now = FilePaths.currentPath(of: folder), FileIdentity(path: now) == held
        else { return nil }
        return FilePaths.shown(now, like: path)
    }

    /// Creates the next free take name's file and log, both or neither. The take file is
    /// locked (`flock`, on a descriptor of its own) from now until it is finished (its log's
    /// summary written, its cues and metadata in), so `review` can tell a take that is still
    /// being recorded, and `review --cues` leaves it alone.
    static func create(
        namer: inout TakeNamer,
        date: Date,
        fileExtension: String,
        logReserve: Int
    ) throws(HeadroomError) -> (base: String, file: Int32, log: Int32, lock: Int32) {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        for _ in 0..<10_000 {
            let base = namer.next(date: date)
            let file = base + "." + fileExtension
            // A folder a day (`--name %Y-%m-%d/take-%H%M%S`): made when its first take begins.
            if namer.makesFolders, let (folder, error) = FilePaths.makeFolders(FilePaths.directory(of: base)) {
                throw HeadroomError(
                    .cantCreate,
                    "cannot create \(file): \(folder): \(String(cString: strerror(error)))"
                )
            }
            // Read and write: the writer reads the take back where a full disk cut a write short.
            let fileFD = open(file, flags & ~O_WRONLY | O_RDWR, 0o644)
            if fileFD < 0 {
                if errno == EEXIST { continue }
                throw HeadroomError(.cantCreate, "cannot create \(file): \(String(cString: strerror(errno)))")
            }
            let log = base + ".clips.jsonl"
            let logFD = open(log, flags | O_APPEND, 0o644)
            if logFD < 0 {
                let error = errno
                close(fileFD)
                unlink(file)
                if error == EEXIST { continue }
                throw HeadroomError(.cantCreate, "cannot create \(log): \(String(cString: strerror(error)))")
            }
            // Disk for the log's lines, held now: an unpaced take can fill a disk before the
            // analyzer writes the log's first line (ClipLogFile keeps holding it ahead).
            _ = hr_reserve(logFD, 0, Int64(logReserve))
            let lockFD = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if lockFD >= 0 { _ = flock(lockFD, LOCK_EX | LOCK_NB) }
            return (base, fileFD, logFD, lockFD)
        }
        throw HeadroomError(.cantCreate, "cannot create a take in \(namer.directory): no free name left")
    }

    func writerClosed(_ index: Int, frames: Int, failure: String? = nil) {
        let ready = state.withLock { s -> Take? in
            s.takes[index].writerClosed = true
            s.takes[index].frames = frames
            s.takes[index].writerFailure = failure
            return s.takes[index].analyzerClosed ? s.takes[index] : nil
        }
        if let ready { finish(ready) }
    }

    func analyzerClosed(
        _ index: Int,
        markers: [CueMarkers.Marker],
        complete: Bool,
        clipEvents: Int,
        metadata: TakeMetadata? = nil
    ) {
        let ready = state.withLock { s -> Take? in
            s.takes[index].analyzerClosed = true
            s.takes[index].markers = markers
            s.takes[index].complete = complete
            s.takes[index].clipEvents = clipEvents
            s.takes[index].metadata = metadata
            return s.takes[index].writerClosed ? s.takes[index] : nil
        }
        if let ready { finish(ready) }
    }

    var all: [Take] { state.withLock { $0.takes } }

    /// The folder takes go to, under its name now (``movedFolder(_:)``). Its calls to the disk
    /// are made outside the lock: a folder that stops answering holds only the caller, not the
    /// writer and the analyzer.
    var directory: String {
        let (folder, directory) = state.withLock { s in (s.folderFD, s.namer.directory) }
        return Self.renamedFolder(folder: folder, directory: directory) ?? directory
    }

    /// The takes that were kept (every take but those removed as never written).
    var kept: [Take] { all.filter { !$0.discarded } }

    /// The frames the writer put into take `index` and why it failed, if it did; nil until
    /// the writer has closed the take.
    func writerOutcome(_ index: Int) -> (frames: Int, failure: String?)? {
        state.withLock { s in
            guard index < s.takes.count, s.takes[index].writerClosed else { return nil }
            return (s.takes[index].frames, s.takes[index].writerFailure)
        }
    }

    /// The writer thread is done: every take it had is closed.
    func writerFinished() { writerDone.signal() }

    /// Waits until the writer thread is done (at the end of a recording).
    func waitForWriter() {
        writerDone.wait()
        writerDone.signal()
    }

    /// Both threads are done with the take: its cue markers and metadata go into it
    /// (WAV/RF64; a FLAC take's chapters and loudness into its tags), with the programme
    /// loudness the analyzer thread measured (or, where it could not, measured here from the
    /// file, as `review` measures it), then `--on-take-closed` runs. Queued on the finisher,
    /// never run on the capture, writer or analyzer threads.
    private func finish(_ take: Take) {
        finishing.enter()
        finisher.async { [self] in
            defer { finishing.leave() }
            // Never created (its error is the writer's failure, said): nothing to finish, and
            // no command to run for a file that is not there.
            if take.error != nil { return }
            if take.writerFailure != nil, discardUnwritten(take) { return }
            // A take renamed while it recorded (in a file manager) is finished under its new
            // name: the writer wrote through its descriptor, and the name is only a way to it.
            var take = take
            if let renamed = renamed(take) {
                problems.withLock {
                    $0.append("\(take.file) was renamed to \(renamed) while recording; finished there")
                }
                take.file = renamed
                if let log = Self.log(of: take, besides: renamed) { take.log = log }
                state.withLock { [take] in
                    $0.takes[take.index].file = take.file
                    $0.takes[take.index].log = take.log
                }
            }
            do throws(HeadroomError) {
                if addsMarkers && fileFormat == .flac {
                    // Chapters and loudness in one write of the comment's bytes (with the
                    // analyzer's rate; never a RIFF chunk appended to a FLAC stream).
                    if let metadata = take.metadata,
                        let written = try FLACTags.finish(
                            take.file,
                            markers: take.markers,
                            rate: metadata.rate,
                            loudness: metadata.loudness ?? ProgrammeLoudness.measure(path: take.file),
                            maxTruePeakDBTP: metadata.maxTruePeakDBTP
                        ),
                        written.chapters < written.markers
                    {
                        problems.withLock {
                            $0.append(
                                "\(take.file): \(written.chapters) of its \(written.markers) markers fit in its tags; the clip log has them all"
                            )
                        }
                    }
                } else if addsMarkers {
                    // Cues and iXML first: a recorder stopped before the loudness is measured
                    // (a service's stop timeout) still leaves them, with bext version 1.
                    do throws(HeadroomError) {
                        let written = try CueMarkers.append(take.markers, to: take.file)
                        if written < take.markers.count,
                            let rate = take.metadata?.rate ?? AudioFile.info(take.file)?.rate
                        {
                            problems.withLock {
                                $0.append(
                                    "\(take.file): \(CueMarkers.outOfReach(take.markers.count - written, rate: rate))"
                                )
                            }
                        }
                    } catch {
                        // A disk the take filled: the loudness still goes into bext, in place.
                        problems.withLock {
                            $0.append(
                                error.message
                                    + "; `headroom review --cues` adds them once there is room"
                            )
                        }
                    }
                    if var metadata = take.metadata {
                        try metadata.apply(to: take.file)
                        if metadata.loudness == nil {
                            // Not measured while recording (a drop, a disk failure): the file.
                            metadata.loudness = ProgrammeLoudness.measure(path: take.file)
                            try metadata.apply(to: take.file)
                        }
                    }
                }
            } catch {
                problems.withLock { $0.append(error.message) }
            }
            // Finished: no longer "recording" to review, and open to its --cues. Its cue
            // markers (one per event: a channel that clipped all night has thousands) are in
            // the file now, and not kept for the weeks a recorder may run on.
            let lock = state.withLock { s in
                defer {
                    s.lockFDs[take.index] = -1
                    s.takes[take.index].markers = []
                }
                return s.lockFDs[take.index]
            }
            if lock >= 0 { close(lock) }
            finished.withLock { $0.append((take.file, take.log)) }
            hook?.run(take: take.file, log: take.log, complete: take.complete)
        }
    }

    /// The take's file under its new name when it was renamed (or moved within its file
    /// system) since it was created, found through the descriptor its lock holds; nil while
    /// it is where it was made, or when it cannot be found (deleted: the writer says so).
    /// In its folder still, the name keeps the folder as `--dir` gave it.
    private func renamed(_ take: Take) -> String? {
        guard let identity = take.fileIdentity, FileIdentity(path: take.file, regularOnly: true) != identity else {
            return nil
        }
        let lock = state.withLock { $0.lockFDs[take.index] }
        guard lock >= 0, let path = FilePaths.currentPath(of: lock),
            FileIdentity(path: path, regularOnly: true) == identity
        else { return nil }
        let folder = FilePaths.directory(of: take.file)
        let name = (path as NSString).lastPathComponent
        if FileIdentity(path: folder) == FileIdentity(path: (path as NSString).deletingLastPathComponent) {
            return FilePaths.folder(of: take.file).isEmpty ? name : (folder as NSString).appendingPathComponent(name)
        }
        return FilePaths.shown(path, like: take.file)
    }

    /// Where the take's log is now: where it was made, or beside the take where the take
    /// went (their folder renamed); nil when it is in neither place.
    private static func log(of take: Take, besides file: String) -> String? {
        guard let identity = take.logIdentity else { return nil }
        if FileIdentity(path: take.log, regularOnly: true) == identity { return take.log }
        let beside = (FilePaths.directory(of: file) as NSString).appendingPathComponent(
            (take.log as NSString).lastPathComponent
        )
        return FileIdentity(path: beside, regularOnly: true) == identity ? beside : nil
    }

    /// Removes a take that holds no audio because the disk failed before any of it was
    /// written: one the writer never reached (the analyzer, ahead of it, had begun it; its
    /// file is empty, not a take anything can open), or one whose first write failed (a FLAC
    /// file of no frames reads as one of unknown length). Its log describes audio that is
    /// not on disk; the take before it says where the audio stops (its `disk` line). Only
    /// the files this recorder created are removed; true when they were.
    private func discardUnwritten(_ take: Take) -> Bool {
        guard take.frames == 0, let file = take.fileIdentity, file == FileIdentity(path: take.file, regularOnly: true)
        else {
            return false
        }
        let unclaimed = state.withLock { s -> Int32 in
            defer { s.fileFDs[take.index] = -1 }
            return s.fileFDs[take.index]
        }
        if unclaimed >= 0 { close(unclaimed) }
        unlink(take.file)
        if let log = take.logIdentity, log == FileIdentity(path: take.log, regularOnly: true) { unlink(take.log) }
        let lock = state.withLock { s in
            s.takes[take.index].discarded = true
            defer { s.lockFDs[take.index] = -1 }
            return s.lockFDs[take.index]
        }
        if lock >= 0 { close(lock) }
        let name = URL(fileURLWithPath: take.file).lastPathComponent
        problems.withLock {
            $0.append("\(name): removed, with its log: the disk failed before any of it was written")
        }
        return true
    }

    /// Finishes, on the finisher and before any take of this recording, the takes a killed
    /// recorder left in this recording's folder and the folders its `--name` makes
    /// (``KilledTakes``): their audio counted in, a WAV take's cue markers written, and
    /// `--on-take-closed` run for each with `HEADROOM_COMPLETE=0`. An unattended recorder
    /// restarted after a power cut so ships the take the cut left, as it ships every other.
    func finishLeftBehind(settings: Settings) {
        let (directory, depth) = state.withLock { s in (s.namer.directory, s.namer.template.count { $0 == "/" }) }
        finishing.enter()
        finisher.async { [self] in
            defer { finishing.leave() }
            let own = Set(all.map(\.file))
            for take in KilledTakes.leftBehind(in: directory, depth: depth, excluding: own) {
                let (lines, finished) = KilledTakes.finish(take, in: directory, settings: settings)
                problems.withLock { $0 += lines }
                leftBehind.withLock { $0 += lines }
                if finished { hook?.run(take: take.file, log: take.log, complete: false) }
            }
        }
    }

    /// Waits until every closed take is finished (and its hook started).
    func waitFinished() { finishing.wait() }
}
