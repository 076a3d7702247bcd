"""valle: VALL-E zero-shot text-to-speech (arXiv 2301.02111).

Text -> phonemes (valle.text), speech -> codec tokens (valle.codec), an autoregressive transformer for
codebook 1 and a non-autoregressive one for codebooks 2-8 (valle.models), training (valle.train),
fast decoding (valle.infer).  Sub-packages are imported lazily so `import valle` stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
