// The tests' seeded generator is the checker's SplitMix64 (one definition): a printed seed
// reproduces a failure on every platform.
@_exported import struct GradientCheck.SeededGenerator
