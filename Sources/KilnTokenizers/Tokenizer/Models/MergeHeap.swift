// A binary min-heap of candidate merges ordered by (rank, position), as the Rust BPE's
// BinaryHeap<Merge> pops them. Its storage is kept between words to avoid reallocating.

struct MergeHeap {
    private struct Entry {
        var key: UInt64  // rank << 32 | position
        var newId: Int32
    }

    private var entries: [Entry] = []

    mutating func removeAll() { entries.removeAll(keepingCapacity: true) }

    mutating func push(rank: UInt64, position: Int, newId: Int32) {
        let entry = Entry(key: rank << 32 | UInt64(position), newId: newId)
        var child = entries.count
        entries.append(entry)
        // Sift up, moving the hole instead of swapping.
        while child > 0 {
            let parent = (child - 1) / 2
            guard entry.key < entries[parent].key else { break }
            entries[child] = entries[parent]
            child = parent
        }
        entries[child] = entry
    }

    mutating func pop() -> (position: Int, newId: Int32)? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        let count = entries.count
        if count > 0 {
            // Sift the last entry down from the root.
            var parent = 0
            while true {
                var child = 2 * parent + 1
                if child >= count { break }
                if child + 1 < count && entries[child + 1].key < entries[child].key { child += 1 }
                guard entries[child].key < last.key else { break }
                entries[parent] = entries[child]
                parent = child
            }
            entries[parent] = last
        }
        return (Int(top.key & 0xFFFF_FFFF), top.newId)
    }
}
