// T3 tracker: a table at each memory controller that counts updates to
// output tiles and fires (releases the tile's DMA descriptor) when a tile
// has received its expected number of updates. One update per cycle.
//
// With upd_valid, at the clock edge:
// - tag hit: count + 1; when it reaches upd_expected the tile fires and its
//   entry is freed in the same cycle;
// - miss with a free entry: upd_expected <= 1 fires at once without an
//   entry, otherwise the lowest-index free entry is taken with count 1;
// - miss with a full table: upd_accept = 0 and nothing changes (the
//   caller holds the update and retries: back-pressure).
// Outputs are registered and describe the update presented at that edge;
// occupancy is the number of valid entries after it. Reference model:
// src/t3/tracker.rs.
`default_nettype none

module tracker #(
    parameter int ENTRIES  = 256,
    parameter int TAG_BITS = 24,
    parameter int CNT_BITS = 16,
    localparam int IDX_BITS = (ENTRIES > 1) ? $clog2(ENTRIES) : 1,
    localparam int OCC_BITS = $clog2(ENTRIES + 1)
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 upd_valid,
    input  wire [TAG_BITS-1:0]  upd_tile,
    input  wire [CNT_BITS-1:0]  upd_expected,
    output reg                  upd_accept,
    output reg                  fire_valid,
    output reg  [TAG_BITS-1:0]  fire_tile,
    output reg  [OCC_BITS-1:0]  occupancy
);

  // Each entry's valid bit is kept twice: next to its tag, so that the
  // match is one compare per entry, and in a vector for the free-entry
  // priority encoder. Written so that the verilated search is a plain
  // reduction over the tag array (the simulation runs it every update).
  reg [ENTRIES-1:0]  valid;
  reg [TAG_BITS:0]   tag   [ENTRIES];   // {valid, tile}
  reg [CNT_BITS-1:0] count [ENTRIES];

  localparam int WORDS = (ENTRIES + 31) / 32;
  // The valid vector padded to whole words; padding counts as taken.
  wire [WORDS*32-1:0] taken = {{(WORDS*32-ENTRIES){1'b1}}, valid};

  always @(posedge clk) begin : update
    // Search results of this cycle; tags of valid entries are unique, so
    // at most one entry hits and OR-ing the hit indices gives it.
    logic                hit;
    logic [IDX_BITS-1:0] hit_idx;
    logic                has_free;
    logic [IDX_BITS-1:0] free_idx;
    logic [31:0]         fw;
    logic                f16, f8, f4, f2, f1;
    logic [CNT_BITS-1:0] next_count;

    hit = 1'b0;
    hit_idx = '0;
    for (logic [IDX_BITS:0] i = '0; i < (IDX_BITS + 1)'(ENTRIES); i = i + 1'b1) begin
      hit = hit | (tag[i[IDX_BITS-1:0]] == {1'b1, upd_tile});
      hit_idx = hit_idx | (i[IDX_BITS-1:0] & {IDX_BITS{tag[i[IDX_BITS-1:0]] == {1'b1, upd_tile}}});
    end

    // Lowest free entry: the lowest word with a free entry, then the lowest
    // free bit in it by halving.
    has_free = 1'b0;
    free_idx = '0;
    fw = '0;
    for (int w = WORDS - 1; w >= 0; w = w - 1) begin
      if (taken[w*32 +: 32] != '1) begin
        has_free = 1'b1;
        fw = ~taken[w*32 +: 32];
        free_idx = IDX_BITS'(w * 32);
      end
    end
    f16 = fw[15:0] == 16'd0;
    fw = f16 ? fw >> 16 : fw;
    f8 = fw[7:0] == 8'd0;
    fw = f8 ? fw >> 8 : fw;
    f4 = fw[3:0] == 4'd0;
    fw = f4 ? fw >> 4 : fw;
    f2 = fw[1:0] == 2'd0;
    fw = f2 ? fw >> 2 : fw;
    f1 = !fw[0];
    free_idx = free_idx | IDX_BITS'({f16, f8, f4, f2, f1});
    next_count = count[hit_idx] + 1'b1;

    if (rst) begin
      valid <= '0;
      tag <= '{default: '0};
      occupancy <= '0;
      upd_accept <= 1'b0;
      fire_valid <= 1'b0;
      fire_tile <= '0;
    end else if (!upd_valid) begin
      upd_accept <= 1'b0;
      fire_valid <= 1'b0;
      fire_tile <= '0;
    end else if (hit) begin
      upd_accept <= 1'b1;
      if (next_count >= upd_expected) begin
        fire_valid <= 1'b1;
        fire_tile <= upd_tile;
        valid[hit_idx] <= 1'b0;
        tag[hit_idx][TAG_BITS] <= 1'b0;
        occupancy <= occupancy - 1'b1;
      end else begin
        fire_valid <= 1'b0;
        fire_tile <= '0;
        count[hit_idx] <= next_count;
      end
    end else if (has_free) begin
      upd_accept <= 1'b1;
      if (upd_expected <= CNT_BITS'(1)) begin
        fire_valid <= 1'b1;
        fire_tile <= upd_tile;
      end else begin
        fire_valid <= 1'b0;
        fire_tile <= '0;
        valid[free_idx] <= 1'b1;
        tag[free_idx] <= {1'b1, upd_tile};
        count[free_idx] <= CNT_BITS'(1);
        occupancy <= occupancy + 1'b1;
      end
    end else begin
      upd_accept <= 1'b0;
      fire_valid <= 1'b0;
      fire_tile <= '0;
    end
  end

endmodule

`default_nettype wire
