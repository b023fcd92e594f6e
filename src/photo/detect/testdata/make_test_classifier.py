#!/usr/bin/env python3
"""Writes a tiny ONNX "classifier" for the detect tests.

Input 1x3xHxW (any H, W), output 1x2: [mean brightness, 1 - mean brightness]
for inputs scaled to 0..1, i.e. labels "bright" and "dark". Its output depends
on the pixels in a way a test can predict, so a review rule such as
"bright>=0.5" must flip between a white and a black image.

Usage: make_test_classifier.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out_path: str) -> None:
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, None, None])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2])
    w = numpy_helper.from_array(
        np.array([[1 / 3] * 3, [-1 / 3] * 3], dtype=np.float32), name="W")
    b = numpy_helper.from_array(np.array([0.0, 1.0], dtype=np.float32), name="B")
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),  # 1x3x1x1
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),     # 1x3
        helper.make_node("Gemm", ["flat", "W", "B"], ["scores"], transB=1),  # 1x2
    ]
    graph = helper.make_graph(nodes, "brightness", [x], [y], initializer=[w, b])
    model = helper.make_model(graph, producer_name="photo-pipeline-tests",
                              opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    onnx.checker.check_model(model)
    onnx.save(model, out_path)


if __name__ == "__main__":
    main(sys.argv[1])
