//! Plots: PNG and SVG from plain data.
