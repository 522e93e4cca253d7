import Foundation
import Testing

@testable import HeadroomCore

/// `--on-take-closed`'s queue as the recorder ends: every take is either run, left running
/// (named with its pid), or named as not run; none falls between.
@Suite("--on-take-closed as the recorder ends")
struct TakeHookTests {
    @Test("a take just taken from the queue when the recorder is told to end: named as not run, and never run")
    func endBetweenQueueAndStart() throws {
        let dir = try scratchFolder("hook")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ran = dir + "/ran"
        let (reached, resume) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let hook = try #require(
            TakeHook(command: "touch '\(ran)'") {
                reached.signal()
                resume.wait()
            }
        )
        hook.run(take: dir + "/t.wav", log: dir + "/t.clips.jsonl", complete: true)
        reached.wait()  // out of the queue, its command not started
        let (leftRunning, notRun) = hook.waitAll { true }
        resume.signal()
        #expect(leftRunning == [])
        #expect(notRun == [dir + "/t.wav"])
        // Waiting again returns once the hook's thread has given the take up (or, before, ran
        // its command to the end).
        _ = hook.waitAll { false }
        #expect(!FileManager.default.fileExists(atPath: ran))
        #expect(hook.failures() == [])
    }

    @Test("the same command, not told to end, runs")
    func runs() throws {
        let dir = try scratchFolder("hook")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ran = dir + "/ran"
        let hook = try #require(TakeHook(command: "touch '\(ran)'"))
        hook.run(take: dir + "/t.wav", log: dir + "/t.clips.jsonl", complete: true)
        let (leftRunning, notRun) = hook.waitAll { false }
        #expect(leftRunning == [] && notRun == [])
        #expect(FileManager.default.fileExists(atPath: ran))
    }
}
