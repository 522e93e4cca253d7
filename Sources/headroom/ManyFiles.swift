import ArgumentParser
import Foundation

/// `--jobs`: how many files `analyze` and `review` work on at once.
struct JobsOption: ParsableArguments {
    @Option(
        // `-j2` as well as `-j 2`, as make and xargs take it.
        name: [.customShort("j", allowingJoined: true), .long],
        parsing: .unconditional,
        help: ArgumentHelp(
            "Files to work on at once [the number of cores]. Output keeps the order the files were given in.",
            valueName: "n"
        )
    )
    var jobs: Int?

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be 1 or more (got \(jobs))") }
    }

    var count: Int { jobs ?? ProcessInfo.processInfo.activeProcessorCount }
}

/// Work on many files at once, one file per worker thread, with the results handed back
/// in the order the files were given, as soon as each and all before it are done: the
/// output of `analyze a b c` is the same whether it ran on one core or many.
enum ManyFiles {
    /// Runs `work` over `items` on up to `jobs` threads; `deliver` runs on the calling
    /// thread with each result in order. With `progress` (a noun: "files"), a line on a
    /// terminal's stderr counts what is done, cleared before anything is delivered.
    static func run<Item: Sendable, Result: Sendable>(
        _ items: [Item],
        jobs: Int,
        progress: String?,
        work: @escaping @Sendable (Item) -> Result,
        deliver: (Int, Result) -> Void
    ) {
        let jobs = max(1, min(jobs, items.count))
        let meter = progress.flatMap { items.count > 1 ? Progress(total: items.count, noun: $0) : nil }
        guard jobs > 1 else {
            for (i, item) in items.enumerated() {
                let result = work(item)
                meter?.clear()
                deliver(i, result)
                meter?.show(i + 1)
            }
            meter?.clear()
            return
        }
        let slots = Slots<Result>(count: items.count)
        for _ in 0..<jobs {
            Thread.detachNewThread {
                while let i = slots.claim() { slots.fill(i, with: work(items[i])) }
            }
        }
        for i in items.indices {
            let (result, finished) = slots.wait(for: i)
            meter?.clear()
            deliver(i, result)
            meter?.show(finished)
        }
        meter?.clear()
    }

    /// The results so far: workers claim the next index and fill its slot; the caller waits
    /// for slot `i`, takes its result and frees it.
    private final class Slots<Result: Sendable>: @unchecked Sendable {
        private let condition = NSCondition()
        private var results: [Result?]
        private var next = 0
        private var finished = 0

        init(count: Int) { results = Array(repeating: nil, count: count) }

        func claim() -> Int? {
            condition.lock()
            defer { condition.unlock() }
            guard next < results.count else { return nil }
            next += 1
            return next - 1
        }

        func fill(_ i: Int, with result: Result) {
            condition.lock()
            results[i] = result
            finished += 1
            condition.broadcast()
            condition.unlock()
        }

        func wait(for i: Int) -> (Result, finished: Int) {
            condition.lock()
            defer { condition.unlock() }
            while results[i] == nil { condition.wait() }
            let result = results[i]!
            results[i] = nil
            return (result, finished)
        }
    }

    /// "5/16 files done" on stderr, redrawn in place; only when stderr is a terminal.
    private final class Progress {
        let total: Int
        let noun: String
        private let line: Terminal.StatusLine

        init?(total: Int, noun: String) {
            guard let line = Terminal.StatusLine() else { return nil }
            self.total = total
            self.noun = noun
            self.line = line
        }

        func show(_ finished: Int) {
            guard finished < total else { return }
            line.show("\(finished)/\(total) \(noun) done")
        }

        func clear() { line.clear() }
    }
}
