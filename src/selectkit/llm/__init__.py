"""LLM prefill strategies (PromptDistill, GemFilter, SnapKV, H2O) built on AttentionTopK (planned)."""
