import Glibc
import Synchronization

/// A preallocated single-producer, single-consumer ring of audio blocks.
///
/// The producer (the capture thread) reserves a slot, fills its payload, and commits;
/// the consumer peeks, uses, and releases. Indices are atomics, the payload memory is
/// allocated and touched in `init`, and the only wake-up is `sem_post` (no lock), so
/// the producer side is real-time safe.
public final class SPSCRing: @unchecked Sendable {
    /// Number of slots (a power of two).
    public let slotCount: Int
    /// Payload bytes per slot.
    public let slotBytes: Int
    private let headers: UnsafeMutablePointer<AudioBlock>
    private let payload: UnsafeMutableRawPointer
    private let written = Atomic<Int>(0)
    private let read = Atomic<Int>(0)
    private var semaphore = sem_t()

    /// - Parameters:
    ///   - slots: at least this many slots (rounded up to a power of two).
    ///   - slotBytes: payload bytes per slot (a period of frames).
    public init(slots: Int, slotBytes: Int) {
        var n = 2
        while n < slots { n <<= 1 }
        slotCount = n
        self.slotBytes = (slotBytes + 63) & ~63
        headers = .allocate(capacity: n)
        headers.initialize(repeating: AudioBlock(), count: n)
        payload = .allocate(byteCount: n * self.slotBytes, alignment: 64)
        // Touch every page now so the capture thread never takes a page fault here.
        payload.initializeMemory(as: UInt8.self, repeating: 0, count: n * self.slotBytes)
        sem_init(&semaphore, 0, 0)
    }

    deinit {
        headers.deinitialize(count: slotCount).deallocate()
        payload.deallocate()
        sem_destroy(&semaphore)
    }

    // MARK: Producer (real-time safe)

    /// The next free slot's header and payload, or `nil` when the ring is full. Real-time safe.
    @inline(__always)
    public func reserve() -> (header: UnsafeMutablePointer<AudioBlock>, payload: UnsafeMutableRawPointer)? {
        let w = written.load(ordering: .relaxed)
        guard w - read.load(ordering: .acquiring) < slotCount else { return nil }
        let slot = w & (slotCount - 1)
        return (headers + slot, payload + slot * slotBytes)
    }

    /// Publishes the slot from ``reserve()`` and wakes the consumer. Real-time safe.
    @inline(__always)
    public func commit() {
        written.add(1, ordering: .releasing)
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
                let slot = r & (slotCount - 1)
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
