#!/usr/bin/env bash
# Builds the test suite (release) and packs it with the Swift runtime libraries it links into
# .gpu/, for the GPU machine, which has no Swift toolchain:
#
#   Scripts/gpu/pack-tests.sh            (after ../shared/tools/gpu-pack kiln, which makes .gpu/)
#   on the GPU machine:  bash .gpu/run-tests.sh [FILTER]     (default: the CUDA suites)
#
# The fixtures are found through the path the tests were compiled at, so run-tests.sh links
# that path to the checkout.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
swift build -c release --build-tests -Xswiftc -enable-testing --scratch-path .build-gpu >&2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/kiln-tests/lib" .gpu
# the command-line tests run the kiln binary beside the test bundle
for binary in KilnPackageTests.xctest kiln; do strip -o "$stage/kiln-tests/$binary" ".build-gpu/release/$binary"; done
# the toolchain's libraries the binaries need (the system's own stay on the system)
swiftlib=$(dirname "$(dirname "$(command -v swift)")")/lib/swift/linux
ldd .build-gpu/release/KilnPackageTests.xctest .build-gpu/release/kiln | awk '{print $3}' | grep "^$swiftlib/" | sort -u | while read -r lib; do
  strip -o "$stage/kiln-tests/lib/$(basename "$lib")" "$lib"
done
tar -C "$stage" -cf - kiln-tests | xz -T2 -6 > .gpu/kiln-tests.tar.xz
cat > .gpu/run-tests.sh <<RUN
#!/usr/bin/env bash
# Unpacks and runs Kiln's tests on this machine; arguments: a --filter pattern.
set -e
here=\$(cd "\$(dirname "\$0")" && pwd)
checkout=\$(cd "\$here/.." && pwd)
mkdir -p /tmp "$(dirname "$root")"
[ -e "$root" ] || ln -s "\$checkout" "$root"
xz -dc "\$here/kiln-tests.tar.xz" | tar -C /tmp -xf -
LD_LIBRARY_PATH=/tmp/kiln-tests/lib /tmp/kiln-tests/KilnPackageTests.xctest --testing-library swift-testing \\
  --filter "\${1:-CUDAParityTests|NoGPUTests}"
RUN
chmod +x .gpu/run-tests.sh
echo "pack-tests: .gpu/kiln-tests.tar.xz ($(du -h .gpu/kiln-tests.tar.xz | cut -f1)); on the GPU machine: bash .gpu/run-tests.sh" >&2
