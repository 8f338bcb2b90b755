// Thin C++ wrappers around the verilated RTL blocks: each owns its own
// VerilatedContext and model, and turns one step(pins) into one clock
// cycle (falling then rising edge). Optional VCD tracing from any cycle on.
#pragma once

#include <cstdint>
#include <memory>

#include "rust/cxx.h"

class VerilatedContext;
class VerilatedVcdC;
class Vtracker;
class Vnmc_alu;
class Vmca_arbiter;

namespace t3rtl {

struct TrackerPins;
struct TrackerOutPins;
struct AluPins;
struct AluOutPins;
struct McaPins;
struct McaOutPins;
struct McaHeld;

// The clock, the time base and the optional VCD writer shared by every
// block wrapper; Model is the verilated top class.
template <class Model>
class Clocked {
 public:
  explicit Clocked(bool traced);
  ~Clocked();
  bool start_trace(rust::Str vcd_path);
  void finish_trace();

 protected:
  // Applies the inputs already written to the model's ports as one cycle.
  void cycle();

  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<Model> top_;
  std::unique_ptr<VerilatedVcdC> vcd_;
  bool traced_;
  uint64_t time_ = 0;
};

class TrackerRtl : public Clocked<Vtracker> {
 public:
  explicit TrackerRtl(bool traced);
  TrackerOutPins step(const TrackerPins& pins);
};

class AluRtl : public Clocked<Vnmc_alu> {
 public:
  explicit AluRtl(bool traced) : Clocked(traced) {}
  AluOutPins step(const AluPins& pins);
};

class McaRtl : public Clocked<Vmca_arbiter> {
 public:
  explicit McaRtl(bool traced);
  McaOutPins step(const McaPins& pins);
  McaHeld hold(const McaPins& pins, uint64_t max_cycles);

 private:
  // Writes the ports; the next cycle() applies them.
  void drive(const McaPins& pins);
};

std::unique_ptr<TrackerRtl> new_tracker(bool traced);
std::unique_ptr<AluRtl> new_alu(bool traced);
std::unique_ptr<McaRtl> new_mca(bool traced);

}  // namespace t3rtl
