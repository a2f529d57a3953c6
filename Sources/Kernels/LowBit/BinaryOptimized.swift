import CLowBit

extension Binary {
  /// Fast binary kernels; results are bit for bit those of `Binary.Reference` (exact integer dots).
  ///
  /// Strategy (as LCE's optimized kernels): im2col over packed bits, an XOR-popcount contraction,
  /// one-padding by construction and zero padding by a post-hoc correction.
  /// - Each group's channels are re-packed as `(cg + 7) / 8` bytes per tap (byte `j` holds channels
  ///   `8j ..< 8j+8`, bit `i` channel `8j + i`; bits of channels `>= cg` cleared, so tail bits never count).
  ///   An output pixel's im2col row is its `kh·kw` taps' bytes, laid out like a filter row; out-of-image
  ///   taps are zero bytes (activation `+1`), which is one-padding by construction.
  /// - `mismatches = Σ popcount(row XOR filterRow)` and `dot = K − 2·mismatches`, `K = kh·kw·cg`.
  ///   Small problems XOR 128-bit vectors (`SIMD2<UInt64>`, four packed words) and count bits with a SWAR
  ///   popcount accumulated per byte (baseline x86-64 has no POPCNT, so `nonzeroBitCount` would be a
  ///   scalar bit-twiddling sequence per word). Larger ones
  ///   use byte tables ("Four Russians"): per tile, for each row byte position and 64 filters, the 256
  ///   rows `popcount(q XOR w_f)` (`q` = every byte value) are built once, and a pixel's counts are sums of
  ///   table rows, 64 filters per row. Both are exact integer sums, so they agree with each other.
  /// - On the `avx2` and `avx512` paths (`LowBitPath`) the contraction is a C kernel instead: rows padded
  ///   to 32 bytes, register tiles of pixels × filters, `vpshufb` nibble-table lookups (AVX2: filters
  ///   transposed into nibble planes, each pixel nibble choosing one of 16 tables) or `vpopcntq`
  ///   (AVX512_VPOPCNTDQ); no byte tables. Same exact counts (`Sources/CLowBit/popcount.c`).
  /// - `.zero` padding: `S[oc, t] = Σ_c w(oc, t, c) = cg − 2·popcount(w(oc, t))` is precomputed per
  ///   (filter, tap) and subtracted for each out-of-image tap of a border pixel (LCE
  ///   `zero_padding_correction`).
  public enum Optimized: Sendable {
    /// Binary 2-D convolution, dots `[n, outH, outW, o]`; same contract and results as
    /// `Binary.Reference.conv2d(input:filter:shape:)`.
    ///
    /// - Precondition: the shape is valid and the operands have the sizes `Conv2DShape` describes.
    public static func conv2d(input: [UInt32], filter: [UInt32], shape s: Conv2DShape) -> [Int32] {
      s.validate(input: input.count, filter: filter.count, "Binary.Optimized.conv2d")
      let plan = ConvPlan(s, path: LowBitPath.current)
      if plan.pixels == 0 { return [] }
      let wc = Binary.words(plan.cg)
      let activations = compactBytes(input, rows: s.n * s.h * s.w * s.groups, wordsPerRow: wc, bits: plan.cg)
      let filters = compactBytes(filter, rows: s.o * plan.taps, wordsPerRow: wc, bits: plan.cg)
      // `run` writes every output element.
      return [Int32](unsafeUninitializedCapacity: plan.pixels * s.o) { out, initialized in
        activations.withUnsafeBufferPointer { a in
          filters.withUnsafeBufferPointer { f in
            plan.run(activations: a.baseAddress!, filters: f.baseAddress!, out: out.baseAddress!)
          }
        }
        initialized = plan.pixels * s.o
      }
    }

    /// Binary fully-connected layer: input `[n, words(c)]`, filter `[o, words(c)]`, dots `[n, o]`; same
    /// results as `Binary.Reference.dense`. Runs as a 1×1 convolution over an `n × 1 × 1` image.
    ///
    /// - Precondition: `n >= 0`, `c >= 1`, `o >= 1`, operand sizes as stated.
    public static func dense(input: [UInt32], filter: [UInt32], n: Int, c: Int, o: Int) -> [Int32] {
      Binary.validateDense(
        input: input.count, filter: filter.count, n: n, c: c, o: o, "Binary.Optimized.dense")
      if n == 0 { return [] }
      return conv2d(
        input: input, filter: filter, shape: Conv2DShape(n: n, h: 1, w: 1, c: c, o: o, kh: 1, kw: 1))
    }

    /// Re-packs rows of `wordsPerRow` words holding `bits` valid bits into rows of `(bits + 7) / 8` bytes,
    /// byte `j` = bits `8j ..< 8j+8` (endianness-independent), bits `>= bits` cleared.
    static func compactBytes(_ words: [UInt32], rows: Int, wordsPerRow wc: Int, bits: Int) -> [UInt8] {
      let cb = (bits + 7) / 8
      let lastMask = bits % 8 == 0 ? UInt8(0xFF) : UInt8((1 << (bits % 8)) - 1)
      var out = [UInt8](repeating: 0, count: rows * cb)
      if rows == 0 { return out }
      words.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
          #if _endian(little)
            // A word's bytes in memory are already bytes 4w ..< 4w+4 of the row: copy, then mask.
            let raw = UnsafeRawPointer(src.baseAddress!)
            for r in 0..<rows {
              UnsafeMutableRawPointer(dst.baseAddress! + r * cb).copyMemory(
                from: raw + r * wc * 4, byteCount: cb)
              dst[r * cb + cb - 1] &= lastMask
            }
          #else
            for r in 0..<rows {
              for j in 0..<cb {
                let word = src[r * wc + j / 4]
                dst[r * cb + j] = UInt8(truncatingIfNeeded: word >> UInt32(8 * (j % 4)))
              }
              dst[r * cb + cb - 1] &= lastMask
            }
          #endif
        }
      }
      return out
    }
  }
}

// MARK: - Convolution plan

extension Binary.Optimized {
  /// Geometry and tiling of one optimized binary convolution.
  fileprivate struct ConvPlan {
    /// Output pixels per tile at most (bounds the im2col and counter buffers).
    static let maxTilePixels = 4096
    /// im2col bytes per tile at most (unless that leaves fewer than 256 pixels).
    static let maxTileBytes = 1 << 24

    let s: Binary.Conv2DShape
    let outH: Int
    let outW: Int
    let pixels: Int
    let taps: Int
    let cg: Int
    let og: Int
    /// Bytes per tap (`(cg + 7) / 8`).
    let tapBytes: Int
    /// Bytes per im2col / filter row (`taps · tapBytes`).
    let rowBytes: Int
    /// `rowBytes` rounded up to a multiple of 16 (32 on the C paths): the row stride of the vector kernel.
    let rowStride: Int
    /// The dispatch path (`portable` runs the Swift kernels).
    let path: LowBitPath
    /// `K = taps · cg`.
    let k: Int

    init(_ s: Binary.Conv2DShape, path: LowBitPath) {
      self.path = path
      self.s = s
      outH = s.outH
      outW = s.outW
      pixels = s.n * outH * outW
      taps = s.kh * s.kw
      cg = s.c / s.groups
      og = s.o / s.groups
      tapBytes = (cg + 7) / 8
      rowBytes = taps * tapBytes
      let align = path == .portable ? 16 : 32
      rowStride = (rowBytes + align - 1) / align * align
      k = taps * cg
    }

    /// Input coordinates of tap `t` of output pixel `(y, x)`.
    @inline(__always) func source(y: Int, x: Int, tap t: Int) -> (iy: Int, ix: Int) {
      let iy = y * s.strideH - s.padTop + (t / s.kw) * s.dilationH
      return (iy, x * s.strideW - s.padLeft + (t % s.kw) * s.dilationW)
    }

    /// Whether byte tables beat the vector kernel for a tile of `tile` pixels. Rough instruction counts:
    /// a table costs ~3000 per row byte and 64 filters to build, ~6 per pixel to use; the vector kernel
    /// ~0.8 per row byte, filter and pixel.
    func prefersTables(tile: Int) -> Bool {
      if path != .portable { return false }
      let tableSets = (og + TableProduct.filters - 1) / TableProduct.filters
      return Double(tile * og) * 0.8 > Double(tableSets) * (3000 + 6 * Double(tile))
    }

    /// Writes all dots into `out` (`[pixels, o]`, uninitialized on entry).
    func run(
      activations: UnsafePointer<UInt8>, filters: UnsafePointer<UInt8>, out: UnsafeMutablePointer<Int32>
    ) {
      let maxTile = min(ConvPlan.maxTilePixels, max(256, ConvPlan.maxTileBytes / rowStride))
      let tiles = (pixels + maxTile - 1) / maxTile
      let tile = (pixels + tiles - 1) / tiles
      let tables = prefersTables(tile: tile) ? TableProduct(plan: self, tile: tile) : nil
      let block = tables == nil ? rowStride : TableProduct.block
      let blocks = (rowBytes + block - 1) / block
      let rows = Scratch<UInt8>(blocks * tile * block)
      let staging = Scratch<UInt8>(blocks * block)
      // Vector kernel: filter rows padded to `rowStride`; tables: filter bytes by row position.
      let filterBytes = Scratch<UInt8>(tables?.columnsCount ?? og * rowStride)
      let tapSums = Scratch<Int32>(og * taps)
      defer {
        rows.free()
        staging.free()
        filterBytes.free()
        tapSums.free()
        tables?.free()
      }
      for g in 0..<s.groups {
        let groupFilters = filters + g * og * rowBytes
        if let tables {
          tables.transpose(groupFilters, into: filterBytes.base)
        } else {
          filterBytes.base.initialize(repeating: 0, count: og * rowStride)
          for f in 0..<og {
            (filterBytes.base + f * rowStride).update(from: groupFilters + f * rowBytes, count: rowBytes)
          }
        }
        if s.padding == .zero {
          // Σ_c w of each (filter, tap): what an all-zero-bytes (+1) tap contributed to the dot.
          for f in 0..<og {
            for t in 0..<taps {
              var ones = 0
              for j in 0..<tapBytes { ones += groupFilters[f * rowBytes + t * tapBytes + j].nonzeroBitCount }
              tapSums.base[f * taps + t] = Int32(cg - 2 * ones)
            }
          }
        }
        var first = 0
        while first < pixels {
          let count = min(tile, pixels - first)
          im2col(
            activations, group: g, first: first, count: count, block: block, into: rows.base,
            staging: staging.base)
          let dots = out + first * s.o + g * og
          if let tables {
            tables.product(rows.base, pixels: count, columns: filterBytes.base, dots: dots)
          } else {
            vectorProduct(rows.base, pixels: count, filters: filterBytes.base, dots: dots)
          }
          if s.padding == .zero { correct(dots, first: first, count: count, tapSums: tapSums.base) }
          first += count
        }
      }
    }

    /// Writes the rows of pixels `first ..< first+count` (group `g`) in blocks of `block` bytes:
    /// byte `j` of pixel `p`'s row goes to `dst[(j / block)·count·block + p·block + j % block]`.
    /// Out-of-image taps are zero bytes, and so are the bytes from `rowBytes` to the end of the last block.
    /// `staging` holds `blocks · block` bytes (one contiguous row).
    func im2col(
      _ a: UnsafePointer<UInt8>, group g: Int, first: Int, count: Int, block: Int,
      into dst: UnsafeMutablePointer<UInt8>, staging: UnsafeMutablePointer<UInt8>
    ) {
      let plane = outH * outW
      let blocks = (rowBytes + block - 1) / block
      let padded = blocks * block
      for p in 0..<count {
        let flat = first + p
        let b = flat / plane
        let y = (flat % plane) / outW
        let x = flat % outW
        // A single block is the row itself; otherwise assemble the row, then scatter its blocks.
        let row = blocks == 1 ? dst + p * block : staging
        for t in 0..<taps {
          let (iy, ix) = source(y: y, x: x, tap: t)
          let d = row + t * tapBytes
          if iy >= 0 && iy < s.h && ix >= 0 && ix < s.w {
            let src = a + (((b * s.h + iy) * s.w + ix) * s.groups + g) * tapBytes
            for i in 0..<tapBytes { d[i] = src[i] }
          } else {
            for i in 0..<tapBytes { d[i] = 0 }
          }
        }
        for i in rowBytes..<padded { row[i] = 0 }
        if blocks > 1 {
          for blk in 0..<blocks {
            let d = dst + (blk * count + p) * block
            let src = staging + blk * block
            for i in 0..<block { d[i] = src[i] }
          }
        }
      }
    }

    /// Stores `dots[p·o + f] = K − 2·popcount(row_p XOR filter_f)`; rows and filters have stride
    /// `rowStride`. The C kernel of `path`, or (portable) 128-bit XORs (four packed words) and a byte-wise
    /// SWAR popcount.
    func vectorProduct(
      _ rows: UnsafeMutablePointer<UInt8>, pixels count: Int, filters: UnsafeMutablePointer<UInt8>,
      dots: UnsafeMutablePointer<Int32>
    ) {
      switch path {
      case .avx512:
        lowbit_xor_popcount_avx512(rows, count, filters, og, rowStride, Int32(k), dots, s.o)
        return
      case .avx2:
        lowbit_xor_popcount_avx2(rows, count, filters, og, rowStride, Int32(k), dots, s.o)
        return
      case .portable:
        break
      }
      let vectors = rowStride / 16
      for p in 0..<count {
        let a = UnsafeRawPointer(rows + p * rowStride)
        for f in 0..<og {
          let w = UnsafeRawPointer(filters + f * rowStride)
          var total = 0
          var v = 0
          while v < vectors {
            // A byte lane gains at most 8 per vector: flush before 32 vectors (255 / 8).
            let end = min(vectors, v + 31)
            var bytes = SIMD2<UInt64>()
            while v < end {
              let x = a.load(fromByteOffset: v * 16, as: SIMD2<UInt64>.self)
              bytes &+= byteCounts(x ^ w.load(fromByteOffset: v * 16, as: SIMD2<UInt64>.self))
              v += 1
            }
            total += horizontalSum(bytes)
          }
          dots[p * s.o + f] = Int32(truncatingIfNeeded: k - 2 * total)
        }
      }
    }

    /// Zero padding: subtracts `Σ_c w` of every out-of-image tap (its zero bytes were counted as `+1`
    /// activations) from the dots of pixels `first ..< first+count`.
    func correct(_ dots: UnsafeMutablePointer<Int32>, first: Int, count: Int, tapSums: UnsafePointer<Int32>) {
      let plane = outH * outW
      for p in 0..<count {
        let row = dots + p * s.o
        let flat = first + p
        let y = (flat % plane) / outW
        let x = flat % outW
        for t in 0..<taps {
          let (iy, ix) = source(y: y, x: x, tap: t)
          if iy >= 0 && iy < s.h && ix >= 0 && ix < s.w { continue }
          for f in 0..<og { row[f] &-= tapSums[f * taps + t] }
        }
      }
    }
  }

  /// A manually managed, 16-byte aligned, uninitialized buffer.
  fileprivate struct Scratch<Element> {
    let base: UnsafeMutablePointer<Element>

    init(_ count: Int) {
      let bytes = max(1, count) * MemoryLayout<Element>.stride
      base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        .bindMemory(to: Element.self, capacity: max(1, count))
    }

    func free() { UnsafeMutableRawPointer(base).deallocate() }
  }

  /// Per-byte popcounts of the 16 bytes of `x` (each lane `0...8`).
  @inline(__always) fileprivate static func byteCounts(_ x: SIMD2<UInt64>) -> SIMD2<UInt64> {
    let m1 = SIMD2<UInt64>(repeating: 0x5555_5555_5555_5555)
    let m2 = SIMD2<UInt64>(repeating: 0x3333_3333_3333_3333)
    let m4 = SIMD2<UInt64>(repeating: 0x0F0F_0F0F_0F0F_0F0F)
    let pairs = x &- ((x &>> 1) & m1)
    let nibbles = (pairs & m2) &+ ((pairs &>> 2) & m2)
    return (nibbles &+ (nibbles &>> 4)) & m4
  }

  /// Sum of the 16 byte lanes of `bytes`.
  @inline(__always) fileprivate static func horizontalSum(_ bytes: SIMD2<UInt64>) -> Int {
    let m8 = SIMD2<UInt64>(repeating: 0x00FF_00FF_00FF_00FF)
    let halves = (bytes & m8) &+ ((bytes &>> 8) & m8)
    let s = halves[0] &+ halves[1]
    return Int(truncatingIfNeeded: (s &* 0x0001_0001_0001_0001) >> 48)
  }

  // MARK: - Byte tables ("Four Russians")

  /// The byte-table product: for one block of `block` row bytes and 64 filters, `table[j][q]` holds the 64
  /// byte counts `popcount(q XOR w_f[j])` for every byte value `q`, so a pixel's mismatch count is a sum of
  /// table rows, 64 filters per row (four 16-byte adds), one row per row byte.
  fileprivate struct TableProduct {
    /// Filters per table row (four vectors of byte counts; a row is one 64-byte cache line).
    static let filters = 64
    /// Row bytes per block: byte counters gain at most 8 per byte (10·8 = 80 < 256), and the block's tables
    /// (10 × 16 KiB) stay in L2.
    static let block = 10
    /// Blocks after which the 16-bit counters are drained into the dots (32 · 10 · 8 = 2560 < 65536; the
    /// drains cost little next to 320 row bytes of lookups).
    static let blocksPerDrain = 32

    /// Byte position of filter `f` (0..<16) in a 16-byte vector: splitting the vector into 16-bit lanes
    /// (low byte, high byte) yields filters 0..<8 and 8..<16 in order.
    static let lane: [Int] = (0..<16).map {
      #if _endian(little)
        2 * ($0 % 8) + $0 / 8
      #else
        2 * ($0 % 8) + 1 - $0 / 8
      #endif
    }

    let plan: ConvPlan
    /// `og` rounded up to a multiple of `filters`.
    let ogPadded: Int
    /// `block × 256 × 4` vectors.
    let tables: Scratch<SIMD16<UInt8>>
    /// 16-bit mismatch counters of one tile × 64 filters.
    let counters: Scratch<SIMD8<UInt16>>

    init(plan: ConvPlan, tile: Int) {
      self.plan = plan
      ogPadded = (plan.og + TableProduct.filters - 1) / TableProduct.filters * TableProduct.filters
      tables = Scratch(TableProduct.block * 256 * 4)
      counters = Scratch(tile * 8)
    }

    /// Size of the `transpose` layout.
    var columnsCount: Int { plan.rowBytes * ogPadded }

    func free() {
      tables.free()
      counters.free()
    }

    /// Re-lays a group's filter rows (`og × rowBytes`) as `columns[j·ogPadded + v·16 + lane[i]]` = byte `j`
    /// of filter `v·16 + i` (zero for padding filters), so a table build loads its filter bytes as vectors.
    func transpose(_ filters: UnsafePointer<UInt8>, into columns: UnsafeMutablePointer<UInt8>) {
      columns.initialize(repeating: 0, count: columnsCount)
      for f in 0..<plan.og {
        let at = f / 16 * 16 + TableProduct.lane[f % 16]
        for j in 0..<plan.rowBytes { columns[j * ogPadded + at] = filters[f * plan.rowBytes + j] }
      }
    }

    /// Stores `dots[p·o + f] = K − 2·popcount(row_p XOR filter_f)` for all pixels and filters. `rows` is
    /// blocked by `block` (see `ConvPlan.im2col`, zero bytes past `rowBytes`), `columns` made by `transpose`.
    func product(
      _ rows: UnsafeMutablePointer<UInt8>, pixels count: Int, columns: UnsafeMutablePointer<UInt8>,
      dots: UnsafeMutablePointer<Int32>
    ) {
      let block = TableProduct.block
      let blocks = (plan.rowBytes + block - 1) / block
      let acc = counters.base
      let table = UnsafeRawPointer(tables.base)
      for first in stride(from: 0, to: plan.og, by: TableProduct.filters) {
        acc.initialize(repeating: .zero, count: count * 8)
        for blk in 0..<blocks {
          for j in 0..<block {
            // Bytes past `rowBytes` are zero in rows; their (all-zero-filter) tables contribute 0.
            let byte = blk * block + j
            let w = UnsafeRawPointer(columns + min(byte, plan.rowBytes - 1) * ogPadded + first)
            TableProduct.build(tables.base + j * 1024, w, isPadding: byte >= plan.rowBytes)
          }
          let base = rows + blk * count * block
          for p in 0..<count {
            let r = base + p * block
            var a0 = SIMD16<UInt8>()
            var a1 = SIMD16<UInt8>()
            var a2 = SIMD16<UInt8>()
            var a3 = SIMD16<UInt8>()
            for j in 0..<block {
              let e = table + (j &* 16384 &+ Int(r[j]) &* 64)
              a0 &+= e.load(as: SIMD16<UInt8>.self)
              a1 &+= e.load(fromByteOffset: 16, as: SIMD16<UInt8>.self)
              a2 &+= e.load(fromByteOffset: 32, as: SIMD16<UInt8>.self)
              a3 &+= e.load(fromByteOffset: 48, as: SIMD16<UInt8>.self)
            }
            let d = acc + p * 8
            TableProduct.add(a0, to: d)
            TableProduct.add(a1, to: d + 2)
            TableProduct.add(a2, to: d + 4)
            TableProduct.add(a3, to: d + 6)
          }
          if (blk + 1) % TableProduct.blocksPerDrain == 0 || blk == blocks - 1 {
            drain(
              pixels: count, first: first, into: dots, initial: blk < TableProduct.blocksPerDrain,
              final: blk == blocks - 1)
          }
        }
      }
    }

    /// Moves the 16-bit counters of filters `first ..< first+64` into `dots` and clears them: the running
    /// mismatch count is `counter` (`initial`) or `dots + counter`; the `final` drain stores `K − 2·count`.
    func drain(
      pixels count: Int, first: Int, into dots: UnsafeMutablePointer<Int32>, initial: Bool, final: Bool
    ) {
      let valid = min(TableProduct.filters, plan.og - first)
      let k = Int32(plan.k)
      UnsafeMutableRawPointer(counters.base).withMemoryRebound(to: UInt16.self, capacity: count * 64) { c in
        for p in 0..<count {
          let row = dots + p * plan.s.o + first
          for f in 0..<valid {
            let mismatches = (initial ? 0 : row[f]) &+ Int32(c[p * 64 + f])
            row[f] = final ? k &- 2 &* mismatches : mismatches
          }
        }
      }
      if !final { counters.base.initialize(repeating: .zero, count: count * 8) }
    }

    /// Builds `table[q] = popcount(q XOR w)` for all 256 bytes `q`, per byte lane of the 64 filter bytes at
    /// `w` (four vectors); a padding table is all zeros.
    @inline(__always) static func build(
      _ table: UnsafeMutablePointer<SIMD16<UInt8>>, _ w: UnsafeRawPointer, isPadding: Bool
    ) {
      if isPadding {
        table.initialize(repeating: .zero, count: 1024)
        return
      }
      let w0 = w.load(as: SIMD16<UInt8>.self)
      let w1 = w.load(fromByteOffset: 16, as: SIMD16<UInt8>.self)
      let w2 = w.load(fromByteOffset: 32, as: SIMD16<UInt8>.self)
      let w3 = w.load(fromByteOffset: 48, as: SIMD16<UInt8>.self)
      table[0] = bytePopcounts(w0)
      table[1] = bytePopcounts(w1)
      table[2] = bytePopcounts(w2)
      table[3] = bytePopcounts(w3)
      let one = SIMD16<UInt8>(repeating: 1)
      var half = 1
      for bit: UInt8 in 0..<8 {
        // Setting bit `bit` of q adds 1 where w's bit is 0 and subtracts 1 (adds 0xFF) where it is 1.
        let d0 = one &- (((w0 &>> bit) & one) &<< 1)
        let d1 = one &- (((w1 &>> bit) & one) &<< 1)
        let d2 = one &- (((w2 &>> bit) & one) &<< 1)
        let d3 = one &- (((w3 &>> bit) & one) &<< 1)
        for q in 0..<half {
          let src = table + 4 * q
          let dst = table + 4 * (half + q)
          dst[0] = src[0] &+ d0
          dst[1] = src[1] &+ d1
          dst[2] = src[2] &+ d2
          dst[3] = src[3] &+ d3
        }
        half *= 2
      }
    }

    /// Popcount of each byte.
    @inline(__always) static func bytePopcounts(_ x: SIMD16<UInt8>) -> SIMD16<UInt8> {
      let pairs = x &- ((x &>> 1) & SIMD16(repeating: 0x55))
      let nibbles = (pairs & SIMD16(repeating: 0x33)) &+ ((pairs &>> 2) & SIMD16(repeating: 0x33))
      return (nibbles &+ (nibbles &>> 4)) & SIMD16(repeating: 0x0F)
    }

    /// Adds 16 byte counts (in `lane` order) to two vectors of 16-bit counters (filters 0..<8, 8..<16).
    @inline(__always) static func add(_ counts: SIMD16<UInt8>, to dst: UnsafeMutablePointer<SIMD8<UInt16>>) {
      let halves = unsafeBitCast(counts, to: SIMD8<UInt16>.self)
      dst[0] &+= halves & SIMD8(repeating: 0xFF)
      dst[1] &+= halves &>> 8
    }
  }
}
