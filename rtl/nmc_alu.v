// NMC ALU: the near-bank adder of compute-enhanced memory. One burst of
// 32 lanes, sum = a + b per 16-bit lane, FP16 or BF16 chosen by `bf16`.
// IEEE round-to-nearest-even on the exact sum, subnormals in and out,
// overflow to infinity, x + (-x) = +0, -0 + -0 = -0, and any NaN operand or
// inf - inf gives the canonical quiet NaN (7E00 FP16, 7FC0 BF16).
// Bit-exact with add_f16 / add_bf16 in src/mem/nmc_alu.rs.
// The result of the operands presented at a clock edge is visible after it.
`default_nettype none

module nmc_alu #(
    parameter int LANES = 32
) (
    input  wire                  clk,
    input  wire                  bf16,
    input  wire [LANES*16-1:0]   a,
    input  wire [LANES*16-1:0]   b,
    output reg  [LANES*16-1:0]   sum
);

  // One format-generic adder. BF16 significands sit left-aligned in the
  // FP16 significand field (3 zero bits appended) so one datapath serves
  // both; only unpacking, bias limits and the rounding position differ.
  //
  // Datapath (26 bits): [25] carry, [24] hidden bit, [23:14] 10 fraction
  // bits, [13:1] alignment bits, [0] sticky only. Keeping the sticky in a
  // bit no operand bit can reach keeps subtraction exact to rounding.
  function automatic [15:0] fadd(input [15:0] x, input [15:0] y, input is_bf);
    reg [7:0]  ex, ey, emax;
    reg [9:0]  mx, my;
    reg        nan_x, nan_y, inf_x, inf_y;
    reg        s_hi, s_lo;    // signs of the larger / smaller magnitude
    reg [7:0]  eb, es;        // exponent fields of the larger / smaller magnitude
    reg [9:0]  mb, ms;
    reg [7:0]  eeb, ees;      // effective exponents (subnormals count as 1)
    reg [7:0]  d;
    reg [4:0]  dc;
    reg [24:0] hi_f, lo_f, lo_s;
    reg        lost;
    reg [25:0] r;
    reg [8:0]  e;             // result exponent, one bit of headroom
    reg [4:0]  lz, shl;
    reg [31:0] v;
    reg [14:0] packed_mag;
    reg        g, st, inc;
    reg [15:0] res;
    begin
      if (is_bf) begin
        ex = x[14:7]; mx = {x[6:0], 3'b000};
        ey = y[14:7]; my = {y[6:0], 3'b000};
        emax = 8'hFF;
      end else begin
        ex = {3'b000, x[14:10]}; mx = x[9:0];
        ey = {3'b000, y[14:10]}; my = y[9:0];
        emax = 8'h1F;
      end
      nan_x = (ex == emax) && (mx != 10'd0);
      nan_y = (ey == emax) && (my != 10'd0);
      inf_x = (ex == emax) && (mx == 10'd0);
      inf_y = (ey == emax) && (my == 10'd0);
      res = 16'h0000;

      if (nan_x || nan_y || (inf_x && inf_y && (x[15] != y[15]))) begin
        res = is_bf ? 16'h7FC0 : 16'h7E00;
      end else if (inf_x) begin
        res = x;
      end else if (inf_y) begin
        res = y;
      end else begin
        // Same format: a larger magnitude is a larger unsigned bit pattern.
        if (x[14:0] >= y[14:0]) begin
          s_hi = x[15]; s_lo = y[15]; eb = ex; mb = mx; es = ey; ms = my;
        end else begin
          s_hi = y[15]; s_lo = x[15]; eb = ey; mb = my; es = ex; ms = mx;
        end
        eeb = (eb == 8'd0) ? 8'd1 : eb;
        ees = (es == 8'd0) ? 8'd1 : es;
        d = eeb - ees;
        dc = (d > 8'd25) ? 5'd25 : d[4:0];
        hi_f = {1'b0, (eb != 8'd0), mb, 13'd0};
        lo_f = {1'b0, (es != 8'd0), ms, 13'd0};
        lo_s = lo_f >> dc;
        lost = ((lo_s << dc) != lo_f);
        if (s_hi == s_lo) r = {hi_f, 1'b0} + {lo_s, lost};
        else r = {hi_f, 1'b0} - {lo_s, lost};

        if (r == 26'd0) begin
          // Exact zero: +0 under RNE unless both operands were -0.
          res = {s_hi & s_lo, 15'd0};
        end else begin
          e = {1'b0, eeb};
          if (r[25]) begin
            r = {1'b0, r[25:2], r[1] | r[0]};
            e = e + 9'd1;
          end else begin
            // Normalise left, but never below the minimum exponent: what
            // is left without a hidden bit is a subnormal.
            // Leading zeros of r[24:0] by halving (five steps, not a
            // 25-step scan: the simulation runs every lane every cycle).
            // The ones appended below the field bound the count at 25.
            v = {r[24:0], 7'h7F};
            lz = 5'd0;
            if (v[31:16] == 16'd0) begin lz = lz + 5'd16; v = v << 16; end
            if (v[31:24] == 8'd0)  begin lz = lz + 5'd8;  v = v << 8;  end
            if (v[31:28] == 4'd0)  begin lz = lz + 5'd4;  v = v << 4;  end
            if (v[31:30] == 2'd0)  begin lz = lz + 5'd2;  v = v << 2;  end
            if (v[31] == 1'b0)     begin lz = lz + 5'd1;               end
            shl = ({4'd0, lz} < e) ? lz : 5'(e - 9'd1);
            r = r << shl;
            e = e - {4'd0, shl};
          end
          if (!r[24]) e = 9'd0;

          if (e >= {1'b0, emax}) begin
            res = is_bf ? {s_hi, 15'h7F80} : {s_hi, 15'h7C00};
          end else begin
            // Rounding may carry into the exponent field: that is exactly
            // subnormal -> normal and max finite -> infinity.
            if (is_bf) begin
              packed_mag = {e[7:0], r[23:17]};
              g = r[16];
              st = |r[15:0];
              inc = g & (st | r[17]);
            end else begin
              packed_mag = {e[4:0], r[23:14]};
              g = r[13];
              st = |r[12:0];
              inc = g & (st | r[14]);
            end
            res = {s_hi, packed_mag + {14'd0, inc}};
          end
        end
      end
      fadd = res;
    end
  endfunction

  always @(posedge clk) begin
    for (int i = 0; i < LANES; i = i + 1) begin
      sum[i*16 +: 16] <= fadd(a[i*16 +: 16], b[i*16 +: 16], bf16);
    end
  end

endmodule

`default_nettype wire
