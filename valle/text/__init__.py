"""valle.text"""
