"""valle.data"""
