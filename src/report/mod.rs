//! Reports: plots (PNG and SVG) and timeline export, made from plain data.
