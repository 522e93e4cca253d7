// swift-tools-version:6.1
import PackageDescription

// Build flags for the analyzer's SIMD kernels (see README, "Build flags").
//
// headroom is built from source on the machine that records, so on x86-64 it is built
// for that machine's CPU (`-target-cpu native`): the true-peak filter, written with Swift
// `SIMD` types, then uses AVX2 and FMA where the CPU has them, about 2.5x the throughput
// of the baseline x86-64 build. To build a binary that you copy to other machines, set
// HEADROOM_TARGET_CPU=x86-64 (the portable baseline) or name the oldest CPU it must run
// on. On ARM64 the baseline already has NEON and FMA and is used as it is.
//
// HeadroomCore is optimized in debug builds too: unspecialized SIMD generics run through
// runtime metadata lookups, and a debug analyzer could not keep up with a real-time
// device in the test suite.
var optimizedSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]
#if arch(x86_64)
let targetCPU = Context.environment["HEADROOM_TARGET_CPU"] ?? "native"
#else
let targetCPU = Context.environment["HEADROOM_TARGET_CPU"] ?? ""
#endif
if !targetCPU.isEmpty {
    optimizedSettings.append(.unsafeFlags(["-target-cpu", targetCPU]))
}
// Without AVX (the x86-64 baselines) a 16-lane vector is four SSE registers and the
// filter spills: the analyzer keeps to 8 lanes there.
if ["x86-64", "x86-64-v2"].contains(targetCPU) {
    optimizedSettings.append(.define("HEADROOM_SSE_ONLY"))
}
// The C kernels: optimized in every configuration, for the same CPU as the Swift code.
var kernelSettings: [CSetting] = [.unsafeFlags(["-O3"])]
if !targetCPU.isEmpty { kernelSettings.append(.unsafeFlags(["-march=\(targetCPU)"])) }

let package = Package(
    name: "headroom",
    products: [
        .executable(name: "headroom", targets: ["headroom"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // TOML 1.0 for the config files (toml++ underneath): a real parser, not a subset.
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // record --listen: a small HTTP/WebSocket server on plain sockets and Swift
        // concurrency, without SwiftNIO (the recorder builds in a fraction of Hummingbird's time).
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
        // The Prometheus text exposition format for /metrics and --metrics-file.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CALSA",
            pkgConfig: "alsa",
            providers: [.apt(["libasound2-dev"])]
        ),
        .systemLibrary(
            name: "CSndFile",
            pkgConfig: "sndfile",
            providers: [.apt(["libsndfile1-dev"])]
        ),
        .systemLibrary(
            name: "CEBUR128",
            pkgConfig: "libebur128",
            providers: [.apt(["libebur128-dev"])]
        ),
        .target(
            name: "HeadroomCore",
            dependencies: [
                "CALSA", "CSndFile", "CHeadroomKernels", .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: optimizedSettings
        ),
        .executableTarget(
            name: "headroom",
            dependencies: [
                "HeadroomCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "CHeadroomKernels", cSettings: kernelSettings),
        .target(name: "CMallocCounter"),
        .executableTarget(
            name: "headroom-bench",
            dependencies: ["HeadroomCore", "CEBUR128", "CSndFile", "CMallocCounter"],
            swiftSettings: optimizedSettings
        ),
        .testTarget(
            name: "HeadroomCoreTests",
            // libebur128 is the yardstick the loudness meter is held to.
            dependencies: ["HeadroomCore", "CSndFile", "CEBUR128"]
        ),
        .testTarget(
            name: "headroomTests",
            dependencies: ["headroom", "HeadroomCore", "CSndFile"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
