"""`saesplade adapt`: learn a user's corpus without labels (issue 16). Torch-free: numpy, scipy, onnx,
onnxruntime, tokenizers, bm25s and PyStemmer (model/requirements-adapt.txt, scripts/adapt-env.sh).

Pipeline (saesplade_model.adapt.run): read and check the corpus -> backbone token states and dense
embeddings from the base package's own graph -> pseudo-queries from the documents -> the label-free fused
teacher (dense cosine + stemmed BM25) -> stage 2 on the corpus (numpy, checkpointed) -> the adapted head
written into a copy of the base graph -> a new package (manifest, golden vectors, query table, labels)."""
