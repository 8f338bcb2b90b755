// t3-mca memory-controller arbiter: decides each DRAM cycle how the
// scheduler may rank the compute and the communication stream.
//   grant = 3 CommFirst    if comm_waiting and starve >= limit
//           1 ComputeFirst else if !compute_waiting or compute_occupancy < threshold
//           2 ComputeOnly  otherwise       (0 Both is never produced here)
// then starve <= comm_waiting && !comm_served ? starve + 1 (saturating) : 0.
// compute_occupancy counts only the compute requests queued at the
// controller: the threshold stands for the GEMM's memory intensity, so
// queued communication must not hold communication back.
// threshold and limit are inputs so one build covers every setting.
// The grant for the inputs at a clock edge is visible after it; `starve`
// is the counter after the edge (the value the next edge's grant uses).
// Reference: McaCycleModel::step in src/mem/arbiter.rs.
`default_nettype none

module mca_arbiter (
    input  wire        clk,
    input  wire        rst,
    input  wire        compute_waiting,
    input  wire        comm_waiting,
    input  wire [15:0] compute_occupancy,
    input  wire        comm_served,
    input  wire [15:0] threshold,
    input  wire [31:0] limit,
    output reg  [1:0]  grant,
    output reg  [31:0] starve
);

  localparam logic [1:0] COMPUTE_FIRST = 2'd1;
  localparam logic [1:0] COMPUTE_ONLY  = 2'd2;
  localparam logic [1:0] COMM_FIRST    = 2'd3;

  always @(posedge clk) begin
    if (rst) begin
      grant <= COMPUTE_FIRST;
      starve <= 32'd0;
    end else begin
      if (comm_waiting && starve >= limit) grant <= COMM_FIRST;
      else if (!compute_waiting || compute_occupancy < threshold) grant <= COMPUTE_FIRST;
      else grant <= COMPUTE_ONLY;

      if (comm_waiting && !comm_served) begin
        if (starve != 32'hFFFF_FFFF) starve <= starve + 32'd1;
      end else begin
        starve <= 32'd0;
      end
    end
  end

endmodule

`default_nettype wire
