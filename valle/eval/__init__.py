"""valle.eval"""
