import PropertyBased
import UNClaims

/// swift-property-based generators for the claims' inputs. They draw the same raw values the
/// catalogue's own generators draw (shapes, 26-bit mantissas, exponents, …) and build the input
/// with the same library function, so a shrunk counterexample is an input of the same family.
enum Gens {
    static let shape = Gen.int(in: 0...(WindowShape.allCases.count - 1))
    static let mantissas = Gen.int(in: 0...((1 << 26) - 1)).array(of: 8)
    static let exponents = Gen.int(in: -60...60).array(of: 8)

    static let rootWindow = zip(shape, Gen.int(in: 2...8), mantissas, exponents).map { s, m, ma, ex in
        WindowShape.allCases[s].build(m: m, mantissas: ma, exponents: ex)
    }

    /// Only `M = 2` windows (both halves of Kober's inequality are equalities there).
    static let windowOfTwo = zip(mantissas, exponents).map { ma, ex in
        WindowShape.windowOfTwo.build(m: 2, mantissas: ma, exponents: ex)
    }

    static let history = zip(Gen.int(in: 2...5), Gen.bool, mantissas, zip(Gen.int(in: -8...8), Gen.int(in: 0...4))).map
    { m, near, ma, rest in
        OutlierFiltrationClaims.HistoryCase.build(
            m: m, near: near, mantissas: ma, exponent: rest.0, excessIndex: rest.1)
    }

    static let scaleDraw = zip(Gen.int(in: -50...50), Gen.int(in: 1...(1 << 20)), Gen.int(in: -30...30))
    static let permOutlierDraw = zip(Gen.int(in: 0...5), Gen.int(in: 0...1000))

    static func invarianceCase(_ w: RootWindow, _ sc: (Int, Int, Int), _ po: (Int, Int))
        -> OutlierFiltrationClaims.InvarianceCase
    {
        var perm = Array(0..<w.m)
        // A permutation from the draw: rotate, and swap the ends when odd.
        let r = po.1 % w.m
        perm = Array(perm[r...] + perm[..<r])
        if po.1 % 2 == 1 { perm.swapAt(0, w.m - 1) }
        let scale = Double(sc.1) * Double(sign: .plus, exponent: sc.2, significand: 1)
        return OutlierFiltrationClaims.InvarianceCase(
            window: w, scaleExponent: sc.0, scale: scale, permutation: perm,
            outlier: [1e-6, 0.01, 2, 10, 1e3, 1e8][po.0])
    }

    static let invariance = zip(rootWindow, scaleDraw, permOutlierDraw).map { w, sc, po in invarianceCase(w, sc, po) }

    static func exponentCase(_ m: Int, _ center: Int, _ spreadIndex: Int, _ fracs: [Double], _ offsets: [Int])
        -> OutlierFiltrationClaims.ExponentCase
    {
        let spread = [0, 2, 30, 300][spreadIndex]
        let window = (0..<m).map { i -> Double in
            let e = max(-1020, min(1020, center + (spread == 0 ? 0 : offsets[i] % (spread + 1))))
            return (1 + fracs[i]) * Double(sign: .plus, exponent: e, significand: 1)
        }
        return OutlierFiltrationClaims.ExponentCase(window: window)
    }

    /// Windows across the exponent range, including ones whose naive product overflows.
    static let exponentWindow = zip(
        zip(Gen.int(in: 1...8), Gen.int(in: -1000...1000), Gen.int(in: 0...3)),
        Gen.double(in: 0...0.999).array(of: 8), Gen.int(in: -300...300).array(of: 8)
    ).map { a, f, o in
        exponentCase(a.0, a.1, a.2, f, o)
    }

    static func layerCase(
        _ size: (Int, Int, Int), _ scale: (Int, Double, Int), _ values: ([Double], [Double]),
        _ pad: ([Bool], Bool, Bool), padded: Bool?
    ) -> LayerCase {
        LayerCase.build(
            batch: size.0, tokens: size.1, channels: size.2, scaleIndex: scale.0, shift: scale.1,
            values: values.0, gradients: values.1,
            pad: (padded ?? pad.2) ? pad.0 : nil, padAllButOne: pad.1, epsIndex: scale.2)
    }
    static let sizeDraw = zip(Gen.int(in: 1...2), Gen.int(in: 1...4), Gen.int(in: 1...5))
    static let scaleDrawL = zip(Gen.int(in: 0...2), Gen.double(in: -1...1), Gen.int(in: 0...2))
    static let valuesDraw = zip(Gen.double(in: -3...3).array(of: 40), Gen.double(in: -3...3).array(of: 40))
    static let padDraw = zip(Gen.bool.array(of: 8), Gen.bool, Gen.bool)
    /// Any case, padded or not.
    static let layerCase = zip(sizeDraw, scaleDrawL, valuesDraw, padDraw).map { a, b, c, d in
        layerCase(a, b, c, d, padded: nil)
    }
    /// Never padded.
    static let unpaddedLayerCase = zip(sizeDraw, scaleDrawL, valuesDraw, padDraw).map { a, b, c, d in
        layerCase(a, b, c, d, padded: false)
    }

    static let exactLayer = Gen.int(in: 0...(ExactLayer.allCases.count - 1)).map { ExactLayer.allCases[$0] }

    static let foldCase = zip(
        zip(Gen.int(in: 1...6), Gen.int(in: 1...5), Gen.int(in: 1...4)),
        Gen.int(in: 0...((1 << 21) - 1)).array(of: 64), Gen.int(in: -30...30).array(of: 64)
    ).map { s, m, e in
        FusionClaims.FoldCase.build(channels: s.0, outputs: s.1, rows: s.2, mantissas: m, exponents: e, spread: 30)
    }
}
