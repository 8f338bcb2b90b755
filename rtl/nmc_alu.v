// NMC ALU: the near-bank adder of compute-enhanced memory. One burst of
// 32 lanes, sum[i] = a[i] + b[i] per 16-bit lane, FP16 or BF16 chosen by
// `bf16`. IEEE round-to-nearest-even on the exact sum, subnormals in and
// out, overflow to infinity, x + (-x) = +0, -0 + -0 = -0, and any NaN
// operand or inf - inf gives the canonical quiet NaN (7E00 FP16, 7FC0 BF16).
// Bit-exact with add_f16 / add_bf16 in src/mem/nmc_alu.rs.
// The result of the operands presented at a clock edge is visible after it.
//
// Written for simulation speed as well as clarity: the co-simulated replay
// clocks this block once per update burst, over a million times. Verilated
// with loop unrolling off (build.rs), the lanes stay one C++ loop over
// arrays, which the C++ compiler turns into vector code only if the lane's
// datapath is plain word arithmetic. Hence: unpacked lane arrays (a packed
// vector would be sliced by a library call), the format's constants as
// loop-invariant inputs rather than per-lane format branches, every
// intermediate a 32-bit word, selections by `?:` on words, and the sign
// difference applied arithmetically (the compiler does not vectorise
// one-bit values that are not comparison results).
`default_nettype none

module nmc_alu #(
    parameter int LANES = 32
) (
    input  wire         clk,
    input  wire         bf16,
    input  wire  [15:0] a   [LANES],
    input  wire  [15:0] b   [LANES],
    output logic [15:0] sum [LANES]
);

  // One format-generic adder. BF16 significands sit left-aligned in the
  // FP16 significand field (3 zero bits appended) so one datapath serves
  // both; only unpacking, bias limits and the rounding position differ,
  // and those come in as the f_* constants.
  //
  // Datapath (26 bits of a word): [25] carry, [24] hidden bit, [23:14] 10
  // fraction bits, [13:1] alignment bits, [0] sticky only. Keeping the
  // sticky in a bit no operand bit can reach keeps subtraction exact to
  // rounding.
  function automatic [15:0] fadd(
      input [15:0] x16, input [15:0] y16,
      input [4:0] f_esh,     // exponent field position: 10 FP16, 7 BF16
      input [31:0] f_emax,   // all-ones exponent: 1F, FF
      input [4:0] f_msh,     // fraction to the FP16 field: 0, 3
      input [31:0] f_mmask,  // fraction bits once there: 3FF, 3F8
      input [4:0] f_rsh,     // first dropped datapath bit: 14, 17
      input [4:0] f_pmsh,    // exponent position when packing: 10, 7
      input [31:0] f_nan,    // canonical quiet NaN
      input [31:0] f_inf);   // +infinity
    logic [31:0] x, y, hi, lo;
    logic [31:0] ehi, elo, mhi, mlo, eeb, ees, d;
    logic [4:0]  dc, lz, shl;
    logic [31:0] neg, hi_f, lo_f, lo_s, r, v, e, rn, en;
    logic [31:0] packed_mag, half, rem, inc;
    logic [31:0] special_res, finite_res;
    begin
      x = {16'd0, x16};
      y = {16'd0, y16};
      // Same format: a larger magnitude is a larger unsigned bit pattern.
      hi = ((x & 32'h7FFF) < (y & 32'h7FFF)) ? y : x;
      lo = ((x & 32'h7FFF) < (y & 32'h7FFF)) ? x : y;
      ehi = (hi >> f_esh) & f_emax;
      elo = (lo >> f_esh) & f_emax;
      mhi = (hi << f_msh) & f_mmask;
      mlo = (lo << f_msh) & f_mmask;

      // An infinity or NaN operand makes hi one. NaN: hi is a NaN, lo is
      // a NaN, or inf - inf (an infinite lo makes hi infinite too).
      // Otherwise the result is hi, the larger infinity.
      special_res = ((mhi != 32'd0)
                     || ((elo == f_emax) && ((mlo | ((x ^ y) & 32'h8000)) != 32'd0)))
                    ? f_nan : hi;

      // All ones when the signs differ: lo is then subtracted.
      neg = 32'd0 - ((x ^ y) >> 15);
      eeb = (ehi == 32'd0) ? 32'd1 : ehi;  // subnormals count as exponent 1
      ees = (elo == 32'd0) ? 32'd1 : elo;
      d = eeb - ees;
      dc = (d > 32'd25) ? 5'd25 : d[4:0];
      hi_f = (mhi << 14) | ((ehi != 32'd0) ? 32'h0100_0000 : 32'd0);
      lo_f = (mlo << 14) | ((elo != 32'd0) ? 32'h0100_0000 : 32'd0);
      lo_s = lo_f >> dc;
      lo_s = lo_s | (((lo_s << dc) != lo_f) ? 32'd1 : 32'd0);  // sticky
      r = hi_f + ((lo_s ^ neg) - neg);

      // Normalise left, but never below the minimum exponent: what is left
      // without a hidden bit is a subnormal. Leading zeros of r[24:0] by
      // halving (five steps, not a 25-step scan); the ones appended below
      // the field bound the count at 25.
      v = (r << 7) | 32'h7F;
      lz = 5'd0;
      lz = (v < 32'h0001_0000) ? lz + 5'd16 : lz;  v = (v < 32'h0001_0000) ? v << 16 : v;
      lz = (v < 32'h0100_0000) ? lz + 5'd8 : lz;   v = (v < 32'h0100_0000) ? v << 8 : v;
      lz = (v < 32'h1000_0000) ? lz + 5'd4 : lz;   v = (v < 32'h1000_0000) ? v << 4 : v;
      lz = (v < 32'h4000_0000) ? lz + 5'd2 : lz;   v = (v < 32'h4000_0000) ? v << 2 : v;
      lz = (v < 32'h8000_0000) ? lz + 5'd1 : lz;
      e = eeb;
      shl = ({27'd0, lz} < e) ? lz : 5'(e - 32'd1);
      // A carry out shifts right once instead, keeping the sticky.
      rn = (r >= 32'h0200_0000) ? ((r >> 1) | (r & 32'd1)) : r << shl;
      en = (r >= 32'h0200_0000) ? e + 32'd1 : e - {27'd0, shl};
      en = (rn >= 32'h0100_0000) ? en : 32'd0;

      // Round to nearest, ties to even. Rounding may carry into the
      // exponent field: that is exactly subnormal -> normal and max finite
      // -> infinity.
      packed_mag = (en << f_pmsh) + ((rn & 32'h00FF_FFFF) >> f_rsh);
      half = 32'd1 << (f_rsh - 5'd1);
      rem = rn & ((half << 1) - 32'd1);
      inc = ((rem > half) || ((rem == half) && ((rn & (half << 1)) != 32'd0)))
            ? 32'd1 : 32'd0;
      finite_res = (r == 32'd0) ? (x & y & 32'h8000)  // exact zero: +0 unless both -0
                 : (en >= f_emax) ? ((hi & 32'h8000) | f_inf)
                 : ((hi & 32'h8000) | ((packed_mag + inc) & 32'h7FFF));
      fadd = 16'((ehi == f_emax) ? special_res : finite_res);
    end
  endfunction

  logic [15:0] next [LANES];

  // A function, so that the loop counter is a local of the generated C++
  // rather than a member (the compiler cannot count a loop over a member).
  // verilator lint_off BLKSEQ
  function automatic void add_lanes();
    for (int unsigned i = 0; i < LANES; i = i + 1) begin
      next[i] = fadd(a[i], b[i],
                     bf16 ? 5'd7 : 5'd10, bf16 ? 32'hFF : 32'h1F,
                     bf16 ? 5'd3 : 5'd0, bf16 ? 32'h3F8 : 32'h3FF,
                     bf16 ? 5'd17 : 5'd14, bf16 ? 5'd7 : 5'd10,
                     bf16 ? 32'h7FC0 : 32'h7E00, bf16 ? 32'h7F80 : 32'h7C00);
    end
  endfunction

  always @(posedge clk) begin
    add_lanes();
    sum <= next;
  end
  // verilator lint_on BLKSEQ

endmodule

`default_nettype wire
