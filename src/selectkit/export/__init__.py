"""Export of pruned models: ONNX fp32/int8, TFLite int8, TFLite-Micro check, C header (planned)."""
