import Glibc
import Synchronization

/// A preallocated single-producer, single-consumer ring of audio blocks.
///
/// The producer (the capture thread) reserves a slot, fills its payload, and commits;
/// the consumer peeks, uses, and releases. Indices are atomics, the payload memory is
/// mapped and its pages faulted in by `init` (one `madvise`, no fault per page), and
/// the only wake-up is `sem_post` (no lock), so the producer side is real-time safe.
public final class SPSCRing: @unchecked Sendable {
    /// Number of slots.
    public let slotCount: Int
    /// Payload bytes per slot.
    public let slotBytes: Int
    private let headers: UnsafeMutablePointer<AudioBlock>
    private let payload: UnsafeMutableRawPointer
    private let mappedBytes: Int
    private let written = Atomic<Int>(0)
    private let read = Atomic<Int>(0)
    private var semaphore = sem_t()

    /// - Parameters:
    ///   - slots: this many slots (at least 2).
    ///   - slotBytes: payload bytes per slot (a period of frames).
    public init(slots: Int, slotBytes: Int) {
        let n = max(slots, 2)
        slotCount = n
        self.slotBytes = (slotBytes + 63) & ~63
        headers = .allocate(capacity: n)
        headers.initialize(repeating: AudioBlock(), count: n)
        mappedBytes = n * self.slotBytes  // mmap and madvise round up to whole pages
        let mapped = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(mapped != MAP_FAILED && mapped != nil, "cannot map \(mappedBytes) bytes for a ring")
        payload = mapped!
        // Fault every page in now so the capture thread never takes a page fault here. The
        // kernel hands them out zeroed, so nothing needs writing over them (a memset did,
        // 74 MB at 32 channels x 96 kHz; the start-up cost was the same within noise).
        // Ordinary pages, not huge ones: with MADV_HUGEPAGE the kernel compacts memory, or
        // (in a virtual machine) the host backs fresh 2 MB pages, before the first block;
        // an unpaced 30 s take of 32 channels at 96 kHz started up to 0.25 s later and took
        // 10 % longer (16 alternating runs), and the analyzer read the ring no faster.
        // MADV_POPULATE_WRITE (23) is Linux 5.14's; before it, one byte a page is written.
        if madvise(payload, mappedBytes, 23) != 0 {
            for page in stride(from: 0, to: mappedBytes, by: 4096) {  // the smallest page size
                payload.storeBytes(of: 0, toByteOffset: page, as: UInt8.self)
            }
        }
        sem_init(&semaphore, 0, 0)
    }

    deinit {
        headers.deinitialize(count: slotCount).deallocate()
        munmap(payload, mappedBytes)
        sem_destroy(&semaphore)
    }

    // MARK: Producer (real-time safe)

    /// The next free slot's header and payload, or `nil` when the ring is full; with
    /// `ahead`, the slot that many past it (the producer may fill several and publish them
    /// together). Real-time safe.
    @inline(__always)
    public func reserve(ahead: Int = 0) -> (header: UnsafeMutablePointer<AudioBlock>, payload: UnsafeMutableRawPointer)?
    {
        let w = written.load(ordering: .relaxed) + ahead
        guard w - read.load(ordering: .acquiring) < slotCount else { return nil }
        let slot = w % slotCount
        return (headers + slot, payload + slot * slotBytes)
    }

    /// Publishes the next `count` reserved slots, in order, and wakes the consumer.
    /// Real-time safe.
    @inline(__always)
    public func commit(count: Int = 1) {
        guard count > 0 else { return }
        written.add(count, ordering: .releasing)
        sem_post(&semaphore)
    }

    /// Slots the consumer has not released yet.
    public var fill: Int { written.load(ordering: .acquiring) - read.load(ordering: .acquiring) }

    // MARK: Consumer

    /// The oldest committed block, waiting up to `timeoutMilliseconds` for one; `nil` on timeout.
    public func next(timeoutMilliseconds: Int) -> (header: AudioBlock, payload: UnsafeRawPointer)? {
        while true {
            let r = read.load(ordering: .relaxed)
            if written.load(ordering: .acquiring) > r {
                let slot = r % slotCount
                return (headers[slot], UnsafeRawPointer(payload + slot * slotBytes))
            }
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            let ns = deadline.tv_nsec + timeoutMilliseconds * 1_000_000
            deadline.tv_sec += ns / 1_000_000_000
            deadline.tv_nsec = ns % 1_000_000_000
            if sem_timedwait(&semaphore, &deadline) != 0 && errno == ETIMEDOUT {
                if written.load(ordering: .acquiring) > read.load(ordering: .relaxed) { continue }
                return nil
            }
        }
    }

    /// Frees the block returned by ``next(timeoutMilliseconds:)``.
    public func release() {
        read.add(1, ordering: .releasing)
    }
}
