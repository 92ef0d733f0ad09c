// The CPU backend's paged KV-cache memory: one float32 region per layer.

import KilnGraph

/// Owns the KV-cache blocks of every layer.
///
/// Invariant: each layer's region holds `numBlocks × elementsPerBlock` floats, allocated in
/// `init` and freed in `deinit`; kernels write only the slots the runtime assigned to the
/// step they run, so concurrent steps never share a slot.
final class KVCachePool: @unchecked Sendable {
    let layout: KVCacheLayout
    private let layers: [UnsafeMutablePointer<Float>]

    init(layout: KVCacheLayout) {
        self.layout = layout
        // Untouched pages of a large allocation are not resident, so reserving the whole
        // pool up front costs only what sequences actually fill.
        layers = (0..<layout.numLayers).map { _ in
            UnsafeMutablePointer<Float>.allocate(capacity: layout.numBlocks * layout.elementsPerBlock)
        }
    }

    deinit { for layer in layers { layer.deallocate() } }

    func layer(_ index: Int) -> LayerCache { LayerCache(base: layers[index], layout: layout) }
}
