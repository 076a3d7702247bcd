"""valle.infer"""
