#!/usr/bin/env python3
"""Tests of scripts/compare_outputs.py: each mask hides only the wall-clock
figure it is for, and a comparison finds and locates every kind of difference.

  python3 scripts/test_compare_outputs.py
"""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_outputs as co  # noqa: E402


def masked(name, text):
    return co.apply_masks(text.encode(), co.masks_for(name), {}).decode()


class Masks(unittest.TestCase):
    def test_each_mask_hides_its_wall_clock_figure(self):
        cases = [
            ("replay.stdout",
             "gpt3-tp32-op (TP 32, GEMM 8192x12288x384) on t3-asplos24 \u2014 8.6 s wall\n",
             "gpt3-tp32-op (TP 32, GEMM 8192x12288x384) on t3-asplos24 \u2014 <wall> s wall\n"),
            ("summary.md", "# t3sim paper: 28 sub-layers, 6 modes (93.1 s)\n",
             "# t3sim paper: 28 sub-layers, 6 modes (<wall> s)\n"),
            ("paper.stderr", "replayed 28 sub-layers in 93.1 s; wrote out\n",
             "replayed 28 sub-layers in <wall> s; wrote out\n"),
            ("t3-mca.stderr",
             "cosim nmc (t3-mca): 1376256 checks on 1 RTL instance(s), 1376256 RTL cycles for "
             "1376256 DRAM/step cycles, no divergence (1.8 s)\n",
             "cosim nmc (t3-mca): 1376256 checks on 1 RTL instance(s), 1376256 RTL cycles for "
             "1376256 DRAM/step cycles, no divergence (<wall> s)\n"),
            ("report.json", '      "wall_s": 1.828951991\n', '      "wall_s": <wall>\n'),
            ("sweep.stderr", "wrote r.csv (/in/spec.toml: 32 points; 32 run in 0.4 s)\n",
             "wrote r.csv (/in/spec.toml: 32 points; 32 run in <wall> s)\n"),
            ("shard-0.stderr",
             "wrote p/part-0.csv (shard 0/3 of /in/spec.toml: 3 of 8 points; 3 run in 0.1 s)\n",
             "wrote p/part-0.csv (shard 0/3 of /in/spec.toml: 3 of 8 points; 3 run in <wall> s)\n"),
            ("stdout.stderr", "/in/spec.toml: 8 points; 8 run in 12.25 s\n",
             "/in/spec.toml: 8 points; 8 run in <wall> s\n"),
            ("all.stdout", "tracker      200000 cycles, seed 3, no divergence (5.83 M cycles/s)\n",
             "tracker      200000 cycles, seed 3, no divergence (<rate> M cycles/s)\n"),
        ]
        for name, text, want in cases:
            with self.subTest(name=name):
                self.assertEqual(masked(name, text), want)

    def test_simulated_figures_are_never_masked(self):
        cases = [
            ("replay.stdout", "t3              848.8    1.528     0.76          1.193   1283.5   0.683\n"),
            ("replay.stdout", "GEMM alone 688.4 us (1.02x roofline), reduce-scatter alone 2603.2 us\n"),
            ("hbm2-stack-text.stdout", "time       1359567 cycles = 1359.6 us\n"),
            ("hbm2-stack-json.stdout", '  "time_ns": 55234.0,\n'),
            ("report.json", '  "rs_alone_ns": 590134.0,\n'),
            # A wall-like phrase in a file its mask is not for stays as it is.
            ("report.json", "on t3-asplos24 \u2014 8.6 s wall\n"),
            ("timeline-t3.json", '{"wall_s": 1.5}\n'),
            ("summary.csv", "# t3sim paper: 28 sub-layers, 6 modes (93.1 s)\n"),
        ]
        for name, text in cases:
            with self.subTest(name=name, text=text):
                self.assertEqual(masked(name, text), text)


class Compare(unittest.TestCase):
    def tree(self, root, files):
        for rel, data in files.items():
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)

    def run_compare(self, old, new, use_masks=True):
        with tempfile.TemporaryDirectory() as d:
            self.tree(os.path.join(d, "old"), old)
            self.tree(os.path.join(d, "new"), new)
            return co.compare(os.path.join(d, "old"), os.path.join(d, "new"), "job", use_masks)

    def test_identical_after_masks_only(self):
        old = {"r.stdout": "x on p \u2014 1.0 s wall\nmode 1\n".encode(), "r.rc": b"0\n"}
        new = {"r.stdout": "x on p \u2014 2.5 s wall\nmode 1\n".encode(), "r.rc": b"0\n"}
        r = self.run_compare(old, new)
        self.assertEqual((r["files"], r["identical"], r["diffs"]), (2, 2, []))
        self.assertEqual(r["masked"], {"replay-wall": 2})
        self.assertEqual(len(self.run_compare(old, new, use_masks=False)["diffs"]), 1)

    def test_text_difference_names_line_and_both_texts(self):
        r = self.run_compare({"out/report.json": b'{\n  "a": 1,\n  "b": 2\n}\n'},
                             {"out/report.json": b'{\n  "a": 1,\n  "b": 3\n}\n'})
        (d,) = r["diffs"]
        self.assertEqual(d["file"], "job/out/report.json")
        self.assertTrue(d["where"].startswith("line 3 col 8:"), d["where"])
        self.assertIn('"b": 2', d["where"])
        self.assertIn('"b": 3', d["where"])

    def test_binary_difference_gives_the_byte_offset(self):
        png = bytes(range(256)) * 40
        bad = bytearray(png)
        bad[5000] ^= 1
        (d,) = self.run_compare({"p.png": png}, {"p.png": bytes(bad)})["diffs"]
        self.assertEqual(d["where"], "byte offset 5000 (sizes 10240 / 10240 B)")

    def test_a_file_on_one_side_only_and_a_truncated_file(self):
        r = self.run_compare({"a.csv": b"x\ny\n", "gone.svg": b"<svg/>"}, {"a.csv": b"x\n"})
        where = {d["file"]: d["where"] for d in r["diffs"]}
        self.assertEqual(where["job/gone.svg"], "only in old")
        self.assertTrue(where["job/a.csv"].startswith("line 2: one file ends here, old goes on"))

    def test_nonzero_exit_codes_are_listed_and_compared(self):
        r = self.run_compare({"bad.rc": b"2\n"}, {"bad.rc": b"0\n"})
        self.assertEqual(r["nonzero"], ["job/bad: exit 2"])
        self.assertEqual(len(r["diffs"]), 1)

    def test_summary_fails_on_a_difference_or_a_missing_job(self):
        same = {"job": "a", "commands": 1, "files": 1, "identical": 1, "diffs": [], "masked": {}, "nonzero": []}
        diff = dict(same, job="b", identical=0, diffs=[{"file": "b/x", "where": "only in new"}])
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "r.jsonl")
            with open(p, "w") as f:
                f.write(json.dumps(same) + "\n")
            with open(os.devnull, "w") as null:
                old, sys.stdout = sys.stdout, null
                try:
                    self.assertEqual(co.summary(p, 1), 0)
                    self.assertEqual(co.summary(p, 2), 1)
                    with open(p, "a") as f:
                        f.write(json.dumps(diff) + "\n")
                    self.assertEqual(co.summary(p, 2), 1)
                finally:
                    sys.stdout = old


if __name__ == "__main__":
    unittest.main()
