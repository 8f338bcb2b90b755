// Implementation of the block wrappers declared in harness.h. A cycle is the
// clock driven low then high with an eval() at each level: Verilator 5
// detects a posedge against the value seen at the previous eval() (see
// Clocked::cycle for the one-eval form used when no waveform is written).
#include "t3sim/sim/harness.h"

#include <string>
#include <type_traits>
#include <utility>

#include "Vmca_arbiter.h"
#include "Vmca_arbiter___024root.h"
#include "Vnmc_alu.h"
#include "Vnmc_alu___024root.h"
#include "Vtracker.h"
#include "Vtracker___024root.h"
#include "t3sim/sim/bridge.rs.h"
#include "verilated.h"
#include "verilated_vcd_c.h"

namespace t3rtl {

template <class Model>
Clocked<Model>::Clocked(bool traced)
    : ctx_(new VerilatedContext), traced_(traced) {
  // Tracing has to be allowed before the model is built; when it is, the
  // model also tracks signal activity, which costs speed, so only replays
  // that dump a waveform ask for it.
  ctx_->traceEverOn(traced);
  top_.reset(new Model(ctx_.get(), "top"));
  top_->clk = 0;
  top_->eval();
}

template <class Model>
Clocked<Model>::~Clocked() {
  finish_trace();
  top_->final();
}

template <class Model>
bool Clocked<Model>::start_trace(rust::Str vcd_path) {
  if (!traced_ || vcd_) return false;
  vcd_.reset(new VerilatedVcdC);
  top_->trace(vcd_.get(), 99);
  vcd_->open(std::string(vcd_path).c_str());
  if (!vcd_->isOpen()) {
    vcd_.reset();
    return false;
  }
  vcd_->dump(time_);
  return true;
}

template <class Model>
void Clocked<Model>::finish_trace() {
  if (vcd_) {
    vcd_->close();
    vcd_.reset();
  }
}

// Whether the verilated root keeps the clock value its trigger logic saw at
// the previous eval() under the name Verilator 5.006 gives it (others name
// it differently; they get the two-eval cycle).
template <class Root, class = void>
struct SavesClock : std::false_type {};
template <class Root>
struct SavesClock<Root, std::void_t<decltype(std::declval<Root&>().__Vtrigrprev__TOP__clk)>>
    : std::true_type {};

template <class Model>
void Clocked<Model>::cycle() {
  using Root = std::remove_pointer_t<decltype(top_->rootp)>;
  if constexpr (SavesClock<Root>::value) {
    // Every block is posedge-only with registered outputs, so the
    // falling-edge eval() only records clk = 0 for the next edge's
    // detection. Recording it directly gives the same rising edge for one
    // eval() instead of two: the arbiter alone is clocked ~18 M times in a
    // co-simulated replay. A waveform keeps both edges.
    if (!vcd_) {
      top_->rootp->__Vtrigrprev__TOP__clk = 0;
      top_->clk = 1;
      top_->eval();
      time_ += 2;
      return;
    }
  }
  top_->clk = 0;
  top_->eval();
  ++time_;
  if (vcd_) vcd_->dump(time_);
  top_->clk = 1;
  top_->eval();
  ++time_;
  if (vcd_) vcd_->dump(time_);
}

template class Clocked<Vtracker>;
template class Clocked<Vnmc_alu>;
template class Clocked<Vmca_arbiter>;

TrackerRtl::TrackerRtl(bool traced) : Clocked(traced) {
  top_->rst = 1;
  top_->upd_valid = 0;
  cycle();
  top_->rst = 0;
}

TrackerOutPins TrackerRtl::step(const TrackerPins& pins) {
  top_->upd_valid = pins.upd_valid;
  // Verilated ports must not carry bits above their width; the RTL's
  // default TAG_BITS 24 and CNT_BITS 16 truncate as the model does.
  top_->upd_tile = pins.upd_tile & 0xFFFFFFu;
  top_->upd_expected = uint16_t(pins.upd_expected);
  cycle();
  TrackerOutPins out;
  out.upd_accept = top_->upd_accept;
  out.fire_valid = top_->fire_valid;
  out.fire_tile = top_->fire_tile;
  out.occupancy = top_->occupancy;
  return out;
}

AluOutPins AluRtl::step(const AluPins& pins) {
  top_->bf16 = pins.bf16;
  for (int l = 0; l < 32; ++l) {
    top_->a[l] = pins.a[l];
    top_->b[l] = pins.b[l];
  }
  cycle();
  AluOutPins out;
  for (int l = 0; l < 32; ++l) out.sum[l] = top_->sum[l];
  return out;
}

McaRtl::McaRtl(bool traced) : Clocked(traced) {
  top_->rst = 1;
  cycle();
  top_->rst = 0;
}

void McaRtl::drive(const McaPins& pins) {
  top_->compute_waiting = pins.compute_waiting;
  top_->comm_waiting = pins.comm_waiting;
  top_->compute_occupancy = pins.compute_occupancy;
  top_->comm_served = pins.comm_served;
  top_->threshold = pins.threshold;
  top_->limit = pins.limit;
}

McaOutPins McaRtl::step(const McaPins& pins) {
  drive(pins);
  cycle();
  McaOutPins out;
  out.grant = top_->grant;
  out.starve = top_->starve;
  return out;
}

McaHeld McaRtl::hold(const McaPins& pins, uint64_t max_cycles) {
  drive(pins);
  McaHeld h;
  h.cycles = 0;
  while (h.cycles < max_cycles) {
    const uint32_t s = top_->starve;
    if (pins.comm_waiting && !pins.comm_served ? s >= pins.limit : s == 0) break;
    cycle();
    ++h.cycles;
  }
  h.out.grant = top_->grant;
  h.out.starve = top_->starve;
  return h;
}

std::unique_ptr<TrackerRtl> new_tracker(bool traced) {
  return std::make_unique<TrackerRtl>(traced);
}
std::unique_ptr<AluRtl> new_alu(bool traced) {
  return std::make_unique<AluRtl>(traced);
}
std::unique_ptr<McaRtl> new_mca(bool traced) {
  return std::make_unique<McaRtl>(traced);
}

}  // namespace t3rtl
