"""valle.codec"""
